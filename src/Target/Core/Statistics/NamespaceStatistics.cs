namespace NovaStor.Target.Core.Statistics;

/// <summary>
/// A namespace's counts: the sum of the live counters every I/O queue keeps for it, plus what queues
/// that have closed counted (folded in when they close). The lock is taken by readers, by a queue
/// closing, and once per queue when it first uses the namespace; never per command.
/// </summary>
internal sealed class NamespaceStatistics
{
    private readonly Lock _lock = new();
    private readonly List<IoCounters> _live = [];
    private readonly IoTotals _retired = new();

    /// <summary>A queue's counters for this namespace, from its first command on it.</summary>
    public void Attach(IoCounters counters)
    {
        lock (_lock)
        {
            _live.Add(counters);
        }
    }

    /// <summary>A queue is done with its counters (it closed): keep their counts.</summary>
    public void Retire(IoCounters counters)
    {
        lock (_lock)
        {
            if (_live.Remove(counters))
            {
                _retired.Add(counters);
            }
        }
    }

    /// <summary>Everything counted for this namespace since it was created.</summary>
    public IoTotals Snapshot()
    {
        var totals = new IoTotals();
        lock (_lock)
        {
            totals.Add(_retired);
            foreach (var counters in _live)
            {
                totals.Add(counters);
            }
        }

        return totals;
    }
}
