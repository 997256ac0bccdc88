using System.Runtime.CompilerServices;

namespace NovaStor.Target.Core.Statistics;

/// <summary>
/// One I/O queue's counters for one namespace (or, with no namespace, for the commands that named
/// none that exists). Single writer: only the thread that writes the queue's responses increments
/// them (the reactor; on the socket transport, whichever thread holds the queue's output lock), with
/// plain increments. Readers (the control plane, a scrape) read them racily with
/// <see cref="Volatile"/>: each value is whole, the set may be a command apart.
/// </summary>
internal sealed class IoCounters(Namespace? ns)
{
    /// <summary>The namespace counted, or null for commands without one.</summary>
    public Namespace? Namespace { get; } = ns;

    public IoCounterValues Values;
}

/// <summary>
/// The counters themselves, padded by a cache line on both sides so that two queues' counters never
/// share a line, whichever objects the allocator or the GC puts next to them.
/// </summary>
internal struct IoCounterValues
{
    private CacheLine _before;

    /// <summary>Read, Write and every other I/O command completed (successful or not).</summary>
    public long ReadCommands;
    public long WriteCommands;
    public long OtherCommands;

    /// <summary>Data moved by successful Reads and Writes.</summary>
    public long BytesRead;
    public long BytesWritten;

    /// <summary>Commands completed with a status other than success (also counted above by kind).</summary>
    public long Errors;

    /// <summary>Receipt to completion, summed over every command counted, in Stopwatch ticks.</summary>
    public long LatencyTicks;

    /// <summary>Commands per latency bucket (<see cref="LatencyBuckets"/>), the overflow last.</summary>
    public LatencySlots Latency;

    private CacheLine _after;
}

[InlineArray(LatencyBuckets.Slots)]
internal struct LatencySlots
{
    private long _first;
}

[InlineArray(8)]
internal struct CacheLine
{
    private long _first;
}
