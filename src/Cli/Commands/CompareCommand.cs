using System.CommandLine;
using System.Globalization;

namespace NovaStor.Cli.Commands;

/// <summary>
/// compare: the NVMe Compare command against -d FILE; the target compares, so a mismatch is the
/// Compare Failure status (exit 1), as with nvme-cli.
/// </summary>
internal static class CompareCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var data = DataFile.Option("File to compare the range with (required); a short last block is padded with zeros");
        data.Required = true;
        var command = new Command("compare", "Compare a block range with a file (NVMe Compare); a mismatch exits 1 with Compare Failure");
        fabrics.AddTo(command);
        space.AddRange(command);
        command.Add(data);
        command.SetAction((result, token) => Failures.GuardAsync(context, "compare", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                var ns = Session.Namespace(controller, result.GetValue(space.NamespaceId));
                string path = result.GetValue(data)!;
                var file = DataFile.OpenRead(path);
                await using (file)
                {
                    long blocks = space.Blocks(result, ns.BlockSize, file.Length);
                    ulong start = result.GetValue(space.StartBlock);
                    await DataFile.SendAsync(file, ns.BlockSize, start, blocks, "Compare",
                        (block, piece) => ns.CompareAsync(block, piece, token), token).ConfigureAwait(false);

                    await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"compare: Success ({blocks} blocks at {start} match {path})")).ConfigureAwait(false);
                }

                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
