using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace NovaStor.Csi.Node;

/// <summary>
/// At start, takes back every ublk device an earlier plugin served (its records): the devices
/// stayed with their I/O waiting, and the file systems on them are still mounted in pods. Each is
/// tried until it is served again, side by side; one whose volume cannot be reached within the
/// controller loss timeout is removed, so its waiting I/O fails (EIO) rather than hangs.
/// </summary>
internal sealed partial class ManagedRecovery(ManagedAttachments attachments, IOptions<CsiOptions> options, ILogger<ManagedRecovery> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var records = attachments.Recorded;
        if (records.Count == 0)
        {
            return;
        }

        if (!attachments.IsAvailable)
        {
            Log.NoDriver(logger, records.Count);
            return;
        }

        var node = options.Value.Node;
        var giveUpAt = DateTime.UtcNow.AddSeconds(node.CtrlLossTimeoutSeconds);
        var delay = TimeSpan.FromSeconds(Math.Max(1, node.ReconnectDelaySeconds));
        Log.Recovering(logger, records.Count);
        await Task.WhenAll(records.Select(async record =>
        {
            while (!await attachments.RecoverAsync(record, stoppingToken).ConfigureAwait(false))
            {
                if (DateTime.UtcNow > giveUpAt)
                {
                    await attachments.AbandonAsync(record).ConfigureAwait(false);
                    return;
                }

                await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
            }
        })).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(60, LogLevel.Information, "Taking back the ublk devices of {Count} managed volume(s) an earlier plugin served")]
        public static partial void Recovering(ILogger logger, int count);

        [LoggerMessage(61, LogLevel.Error, "{Count} managed volume(s) are noted, but this node has no ublk driver now: their devices cannot be taken back")]
        public static partial void NoDriver(ILogger logger, int count);
    }
}
