using System.Diagnostics;
using System.Runtime.CompilerServices;
using NovaStor.Protocol;

namespace NovaStor.Target.Core.Statistics;

/// <summary>
/// The counters of one I/O queue: one <see cref="IoCounters"/> per namespace the queue has used,
/// found by namespace id in a table, and one for commands that named no namespace.
/// </summary>
/// <remarks>
/// <para><b>Threads.</b> <see cref="Record"/> runs where the queue's responses are written, one at a
/// time: the reactor thread (io_uring transport), or under the queue's output lock (socket
/// transport). It increments plain fields and takes no lock; allocation happens only the first time
/// the queue meets a namespace (its counters, registered with the namespace under the namespace's
/// lock). <see cref="Retire"/> runs once, when the queue closes, after its last response was
/// written: each namespace folds the queue's counts into its retired totals. Readers take
/// <see cref="Snapshot"/> from any thread.</para>
/// </remarks>
internal sealed class QueueStatistics
{
    private readonly IoCounters _withoutNamespace = new(null);

    // Writer only: counters by namespace id (grown to the highest id used, at most Subsystem.MaxNamespaces + 1).
    private IoCounters?[] _byNamespaceId = [];

    // Written by the writer (copy on write), read by readers: every namespace's counters of this queue.
    private IoCounters[] _counters = [];
    private bool _retired;

    /// <summary>Counts a completed I/O command: by kind, bytes when it succeeded, error when not, latency since receipt.</summary>
    public void Record(NvmeRequest request)
    {
        byte opcode = request.Command.Opcode;
        if (opcode == AdminOpcode.Fabrics)
        {
            return; // Connect on this queue: not an I/O command
        }

        long elapsed = Stopwatch.GetTimestamp() - request.ReceivedTimestamp;
        ref var values = ref CountersOf(request.Namespace).Values;
        bool success = request.Status.IsSuccess;
        if (opcode == IoOpcode.Read)
        {
            values.ReadCommands++;
            if (success)
            {
                values.BytesRead += request.DataLength;
            }
        }
        else if (opcode == IoOpcode.Write)
        {
            values.WriteCommands++;
            if (success)
            {
                values.BytesWritten += request.DataLength;
            }
        }
        else
        {
            values.OtherCommands++;
        }

        if (!success)
        {
            values.Errors++;
        }

        values.LatencyTicks += elapsed;
        values.Latency[LatencyBuckets.IndexOf(elapsed)]++;
    }

    /// <summary>This queue's counts since it connected (every namespace, and commands with none).</summary>
    public IoTotals Snapshot()
    {
        var totals = new IoTotals();
        totals.Add(_withoutNamespace);
        foreach (var counters in Volatile.Read(ref _counters))
        {
            totals.Add(counters);
        }

        return totals;
    }

    /// <summary>The queue closed: its namespaces keep what it counted. Its own totals end with it.</summary>
    public void Retire()
    {
        if (_retired)
        {
            return;
        }

        _retired = true;
        foreach (var counters in _counters)
        {
            counters.Namespace!.Statistics.Retire(counters);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private IoCounters CountersOf(Namespace? ns)
    {
        if (ns is null)
        {
            return _withoutNamespace;
        }

        var table = _byNamespaceId;
        uint id = ns.Id;
        return id < (uint)table.Length && table[id] is { } counters && ReferenceEquals(counters.Namespace, ns) ? counters : Add(ns);
    }

    /// <summary>The first command of this queue on <paramref name="ns"/> (or on a namespace that replaced the one with its id).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private IoCounters Add(Namespace ns)
    {
        if (_retired)
        {
            return _withoutNamespace; // cannot happen (nothing completes after close); never leave counters unretired
        }

        uint id = ns.Id;
        if (id >= (uint)_byNamespaceId.Length)
        {
            Array.Resize(ref _byNamespaceId, (int)id + 1);
        }

        var replaced = _byNamespaceId[id];
        var counters = new IoCounters(ns);
        ns.Statistics.Attach(counters);
        _byNamespaceId[id] = counters;
        var list = new List<IoCounters>(_counters.Length + 1);
        foreach (var existing in _counters)
        {
            if (!ReferenceEquals(existing, replaced))
            {
                list.Add(existing);
            }
        }

        list.Add(counters);
        Volatile.Write(ref _counters, [.. list]);
        replaced?.Namespace!.Statistics.Retire(replaced);
        return counters;
    }
}
