using System.CommandLine;
using System.Globalization;

namespace NovaStor.Cli.Commands;

/// <summary>write: -d FILE onto a block range (the range defaults to the file's length, its last block padded with zeros).</summary>
internal static class WriteCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var data = DataFile.Option("File to write (required); a short last block is padded with zeros");
        data.Required = true;
        var fua = new Option<bool>("--force-unit-access", "--fua", "-f") { Description = "Force Unit Access: durable when each command completes" };
        var command = new Command("write", "Write a file onto a block range");
        fabrics.AddTo(command);
        space.AddRange(command);
        command.Add(data);
        command.Add(fua);
        command.SetAction((result, token) => Failures.GuardAsync(context, "write", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                var ns = Session.Namespace(controller, result.GetValue(space.NamespaceId));
                string path = result.GetValue(data)!;
                var file = DataFile.OpenRead(path);
                await using (file)
                {
                    long blocks = space.Blocks(result, ns.BlockSize, file.Length);
                    ulong start = result.GetValue(space.StartBlock);
                    bool forceUnitAccess = result.GetValue(fua);
                    await DataFile.SendAsync(file, ns.BlockSize, start, blocks, "Write",
                        (block, piece) => ns.WriteAsync(block, piece, forceUnitAccess, token), token).ConfigureAwait(false);

                    await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"write: Success ({blocks} blocks at {start} from {path})")).ConfigureAwait(false);
                }

                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
