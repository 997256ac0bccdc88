using System.CommandLine;
using System.Globalization;

namespace NovaStor.Cli.Commands;

/// <summary>write-zeroes: Write Zeroes over a block range, optionally deallocating it (DEAC).</summary>
internal static class WriteZeroesCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var deallocate = new Option<bool>("--deac", "-d") { Description = "Deallocate the blocks as well (DEAC); they still read as zeros" };
        var command = new Command("write-zeroes", "Write zeros over a block range (-S and -c or -z)");
        fabrics.AddTo(command);
        space.AddRange(command);
        command.Add(deallocate);
        command.SetAction((result, token) => Failures.GuardAsync(context, "write-zeroes", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                var ns = Session.Namespace(controller, result.GetValue(space.NamespaceId));
                long blocks = space.Blocks(result, ns.BlockSize, null);
                ulong start = result.GetValue(space.StartBlock);
                (await ns.WriteZeroesAsync(start, blocks, result.GetValue(deallocate), token).ConfigureAwait(false)).ThrowIfFailed("Write Zeroes");
                await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"write-zeroes: Success ({blocks} blocks at {start})")).ConfigureAwait(false);
                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
