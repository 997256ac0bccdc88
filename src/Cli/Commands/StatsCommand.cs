using System.CommandLine;
using NovaStor.Cli.Output;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Commands;

/// <summary>stats: I/O counters per namespace and per connected queue since the target started.</summary>
internal static class StatsCommand
{
    public static Command Create(CliContext context)
    {
        var nqn = new Option<string?>("--nqn") { Description = "Only this subsystem's counters", HelpName = "nqn" };
        return ControlPlaneSession.Command(context, "stats",
            "I/O counters per namespace and per queue since the target started; latency p50/p99 estimated from the histogram (-o json has the histogram)",
            [nqn], async call =>
            {
                var stats = await new Stats.StatsClient(call.Channel).GetStatsAsync(new GetStatsRequest { SubsystemNqn = call.Result.GetValue(nqn) ?? "" }, call.Options)
                    .ResponseAsync.ConfigureAwait(false);
                await call.WriteAsync(() => StatsReport.Text(stats), () => StatsReport.Json(stats)).ConfigureAwait(false);
                return ExitCodes.Success;
            });
    }
}
