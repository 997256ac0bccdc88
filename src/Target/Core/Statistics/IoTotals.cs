namespace NovaStor.Target.Core.Statistics;

/// <summary>
/// A sum of counters taken at one moment (for the control plane and metrics): built off the I/O
/// path, by a reader, from racy reads of each queue's counters.
/// </summary>
internal sealed class IoTotals
{
    public long ReadCommands;
    public long WriteCommands;
    public long OtherCommands;
    public long BytesRead;
    public long BytesWritten;
    public long Errors;
    public long LatencyTicks;

    /// <summary>Commands per latency bucket, the overflow last (<see cref="LatencyBuckets"/>).</summary>
    public long[] Latency { get; } = new long[LatencyBuckets.Slots];

    /// <summary>Every command counted: the sum of the latency buckets.</summary>
    public long Commands
    {
        get
        {
            long sum = 0;
            foreach (long count in Latency)
            {
                sum += count;
            }

            return sum;
        }
    }

    public double LatencySumMicroseconds => LatencyBuckets.TicksToMicroseconds(LatencyTicks);

    /// <summary>Adds a queue's live counters (read racily, each value whole).</summary>
    public void Add(IoCounters counters)
    {
        ref var values = ref counters.Values;
        ReadCommands += Volatile.Read(ref values.ReadCommands);
        WriteCommands += Volatile.Read(ref values.WriteCommands);
        OtherCommands += Volatile.Read(ref values.OtherCommands);
        BytesRead += Volatile.Read(ref values.BytesRead);
        BytesWritten += Volatile.Read(ref values.BytesWritten);
        Errors += Volatile.Read(ref values.Errors);
        LatencyTicks += Volatile.Read(ref values.LatencyTicks);
        for (int i = 0; i < LatencyBuckets.Slots; i++)
        {
            Latency[i] += Volatile.Read(ref values.Latency[i]);
        }
    }

    public void Add(IoTotals other)
    {
        ReadCommands += other.ReadCommands;
        WriteCommands += other.WriteCommands;
        OtherCommands += other.OtherCommands;
        BytesRead += other.BytesRead;
        BytesWritten += other.BytesWritten;
        Errors += other.Errors;
        LatencyTicks += other.LatencyTicks;
        for (int i = 0; i < LatencyBuckets.Slots; i++)
        {
            Latency[i] += other.Latency[i];
        }
    }
}
