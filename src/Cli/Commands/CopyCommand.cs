using System.CommandLine;
using System.Globalization;

namespace NovaStor.Cli.Commands;

/// <summary>
/// copy: the Copy command inside one namespace. The source ranges land one after another from
/// --sdlba, as nvme-cli's copy places them.
/// </summary>
internal static class CopyCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var ranges = new RangeOptions();
        var destination = new Option<ulong>("--sdlba", "-d") { Description = "First destination block", Required = true, HelpName = "lba" };
        var command = new Command("copy", "Copy block ranges (--slbs/--blocks) to --sdlba within a namespace");
        fabrics.AddTo(command);
        space.AddNamespace(command);
        ranges.AddTo(command);
        command.Add(destination);
        command.SetAction((result, token) => Failures.GuardAsync(context, "copy", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                var ns = Session.Namespace(controller, result.GetValue(space.NamespaceId));
                var list = ranges.Ranges(result);
                ulong next = result.GetValue(destination);
                long total = 0;
                foreach (var (start, blocks) in list)
                {
                    (await ns.CopyAsync(start, blocks, next, token).ConfigureAwait(false)).ThrowIfFailed("Copy");
                    next += (ulong)blocks;
                    total += blocks;
                }

                await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"copy: Success ({total} blocks to {result.GetValue(destination)})")).ConfigureAwait(false);
                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
