using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.ControlPlane;

/// <summary>With the insecure development flag, says so at start and every minute: nobody should run that way by accident.</summary>
internal sealed partial class InsecureWarning(ControlPlaneOptions options, TimeProvider time, ILogger<InsecureWarning> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled || !options.Insecure)
        {
            return;
        }

        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            Warn(logger, options.Address, options.Port);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(200, LogLevel.Warning, "The control plane on {Address}:{Port} is INSECURE (NovaStor:ControlPlane:Insecure): plaintext, no client authentication; anyone on this machine can change what it serves. Development only.")]
    private static partial void Warn(ILogger logger, string address, int port);
}
