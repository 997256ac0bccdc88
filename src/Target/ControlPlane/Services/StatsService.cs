using Grpc.Core;
using NovaStor.ControlPlane.V1;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Statistics;
using IoCountersMessage = NovaStor.ControlPlane.V1.IoCounters;
using Subsystem = NovaStor.Target.Core.Subsystem;

namespace NovaStor.Target.ControlPlane.Services;

/// <summary>
/// The Stats service of the control plane (novastor.v1): the I/O counters and latency histograms of
/// every namespace (since it was created, closed queues included) and of every connected I/O queue,
/// read from the counters the queues keep (<see cref="QueueStatistics"/>) without stopping them.
/// </summary>
internal sealed class StatsService(SubsystemRegistry registry, NodeState node) : Stats.StatsBase
{
    public override Task<StatsResponse> GetStats(GetStatsRequest request, ServerCallContext context)
    {
        IReadOnlyList<Subsystem> subsystems = request.SubsystemNqn.Length > 0 ? [node.Find(request.SubsystemNqn)] : registry.Subsystems;

        var response = new StatsResponse();
        foreach (var subsystem in subsystems)
        {
            foreach (var ns in subsystem.Namespaces)
            {
                response.Namespaces.Add(new NamespaceStats
                {
                    SubsystemNqn = subsystem.Nqn,
                    NamespaceId = ns.Id,
                    Volume = ns.VolumeName,
                    Counters = ToMessage(ns.Statistics.Snapshot()),
                });
            }

            foreach (var (controller, queue, statistics) in StatisticsReader.IoQueues(subsystem))
            {
                response.Queues.Add(new QueueStats
                {
                    SubsystemNqn = subsystem.Nqn,
                    ControllerId = controller.Id,
                    QueueId = queue.QueueId,
                    Counters = ToMessage(statistics.Snapshot()),
                });
            }
        }

        return Task.FromResult(response);
    }

    private static IoCountersMessage ToMessage(IoTotals totals)
    {
        var latency = new LatencyHistogram
        {
            Overflow = (ulong)totals.Latency[LatencyBuckets.Overflow],
            SumUs = totals.LatencySumMicroseconds,
        };
        for (int i = 0; i < LatencyBuckets.Count; i++)
        {
            latency.UpperBoundsUs.Add(LatencyBuckets.UpperBoundMicroseconds(i));
            latency.Counts.Add((ulong)totals.Latency[i]);
        }

        return new IoCountersMessage
        {
            ReadCommands = (ulong)totals.ReadCommands,
            WriteCommands = (ulong)totals.WriteCommands,
            OtherCommands = (ulong)totals.OtherCommands,
            BytesRead = (ulong)totals.BytesRead,
            BytesWritten = (ulong)totals.BytesWritten,
            Errors = (ulong)totals.Errors,
            Latency = latency,
        };
    }
}
