using System.CommandLine;
using NovaStor.Ublk;

namespace NovaStor.Cli.Commands;

/// <summary>detach: asks the attach process serving /dev/ublkbN to flush and remove it, and waits until it is gone.</summary>
internal static class DetachCommand
{
    public static Command Create(CliContext context)
    {
        var device = new Argument<string>("DEVICE") { Description = "The device attach printed, /dev/ublkbN (or N)" };
        var force = new Option<bool>("--force") { Description = "Detach even while it is mounted (the file system then loses its device)" };
        var timeout = new Option<int>("--timeout")
        {
            Description = "Seconds to wait for the device to go",
            DefaultValueFactory = _ => 60,
            CustomParser = r => Numbers.Parser(1, 3600, "--timeout")(r),
        };
        var command = new Command("detach", "Remove a block device made by attach: its server flushes, then the device goes") { device, force, timeout };
        command.SetAction((result, token) => Failures.GuardAsync(context, "detach", async () =>
        {
            string name = result.GetValue(device)!;
            if (!UblkDevices.TryParse(name, out int id))
            {
                throw new CliUsageException($"'{name}' is not a ublk block device (/dev/ublkbN)");
            }

            try
            {
                string outcome = await UblkDevices.DetachAsync(id, result.GetValue(force), TimeSpan.FromSeconds(result.GetValue(timeout)), token).ConfigureAwait(false);
                await context.Out.WriteLineAsync(outcome).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            catch (UblkException e)
            {
                throw new CliUsageException(e.Message);
            }
        }, token));
        return command;
    }
}
