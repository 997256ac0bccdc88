using System.CommandLine;
using System.Globalization;

namespace NovaStor.Cli.Commands;

/// <summary>
/// dsm: Dataset Management. The host library sends the Deallocate attribute only (the target
/// ignores the integral-read/write hints), so --ad is required rather than silently ignored.
/// </summary>
internal static class DsmCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var ranges = new RangeOptions();
        var deallocate = new Option<bool>("--ad", "-d") { Description = "Attribute Deallocate (required: the only attribute supported)" };
        var command = new Command("dsm", "Dataset Management: deallocate ranges (--ad --slbs 0,100 --blocks 8,8)");
        fabrics.AddTo(command);
        space.AddNamespace(command);
        ranges.AddTo(command);
        command.Add(deallocate);
        command.Validators.Add(r =>
        {
            if (!r.GetValue(deallocate))
            {
                r.AddError("dsm: only deallocate is supported: pass --ad");
            }
        });
        command.SetAction((result, token) => Failures.GuardAsync(context, "dsm", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                var ns = Session.Namespace(controller, result.GetValue(space.NamespaceId));
                var list = ranges.Ranges(result);
                foreach (var (start, blocks) in list)
                {
                    (await ns.DeallocateAsync(start, blocks, token).ConfigureAwait(false)).ThrowIfFailed("Dataset Management");
                }

                await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"dsm: Success ({list.Count} range(s) deallocated)")).ConfigureAwait(false);
                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
