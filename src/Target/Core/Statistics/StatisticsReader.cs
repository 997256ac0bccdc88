namespace NovaStor.Target.Core.Statistics;

/// <summary>Where readers (the control plane, metrics) find the counters: off the I/O path.</summary>
internal static class StatisticsReader
{
    /// <summary>The I/O queues connected to <paramref name="subsystem"/> now, by controller id, then queue id.</summary>
    public static IEnumerable<(Controller Controller, QueueSession Queue, QueueStatistics Statistics)> IoQueues(Subsystem subsystem)
    {
        foreach (var controller in subsystem.Controllers())
        {
            var queues = controller.ConnectedQueues();
            Array.Sort(queues, static (a, b) => a.QueueId.CompareTo(b.QueueId));
            foreach (var queue in queues)
            {
                if (queue.QueueId != 0 && queue.Statistics is { } statistics)
                {
                    yield return (controller, queue, statistics);
                }
            }
        }
    }
}
