using System.Diagnostics;
using NovaStor.BlockEngine;
using NovaStor.Load;

namespace NovaStor.EngineVsFio;

/// <summary>What the engine did during one timed run of a row.</summary>
/// <remarks>CPU and context switches are the whole process's (reactor, thread pool, GC, the sleeping main thread) per I/O.</remarks>
public sealed record EngineMeasurement(long Ios, double Seconds, double Iops, double BytesPerSecond, double P50Micros, double P99Micros,
    double CpuMicrosPerIo, double ContextSwitchesPerIo);

/// <summary>
/// The engine side of one row: keeps exactly <see cref="Workload.QueueDepth"/> requests in flight
/// against an <see cref="IBlockVolume"/>, as fio's io_uring engine does against the file.
/// </summary>
/// <remarks>
/// <para>Each queue slot owns a buffer, a start timestamp and a xorshift state; its completion
/// (on the reactor thread for io_uring, a thread-pool thread for the fallback) records the
/// latency and resubmits the slot at once. Nothing here allocates per I/O and no Task is involved,
/// so what is measured is the engine's own submit and completion path. Slot buffers are rented
/// from an <see cref="EngineLane"/>, as the target's queues rent theirs: on the io_uring engine the
/// requests then run on the lane's reactor with its registered memory (READ_FIXED/WRITE_FIXED).</para>
/// <para>A run warms up first (no counting), then counts completions and latencies for a fixed
/// duration, then stops resubmitting and waits until every slot has drained.</para>
/// </remarks>
public sealed class EngineLoad : IBlockCompletion, IDisposable
{
    private const int Warming = 0;
    private const int Measuring = 1;
    private const int Draining = 2;

    private static readonly TimeSpan DrainWait = TimeSpan.FromSeconds(30);

    private readonly IBlockVolume _volume;
    private readonly Workload _workload;
    private readonly BlockOperation _operation;
    private readonly AlignedBuffer[] _buffers;
    private readonly nint[] _bufferAddresses;
    private readonly EngineLane[] _laneOfSlot;
    private readonly long[] _startedAt;
    private readonly ulong[] _random;
    private readonly long _blocks;
    private readonly long _spanBytes;
    private readonly LatencyHistogram _latency = new();
    private readonly ManualResetEventSlim _drained = new(false);

    private long _nextSequential;
    private long _completed;
    private int _phase;
    private int _inFlight;
    private int _firstError;

    /// <param name="lanes">Lanes the slots are spread over (slot i on lane i mod count); none: unbound.</param>
    public EngineLoad(IBlockVolume volume, Workload workload, ulong seed, IReadOnlyList<EngineLane>? lanes = null)
    {
        ArgumentNullException.ThrowIfNull(volume);
        ArgumentNullException.ThrowIfNull(workload);
        _volume = volume;
        _workload = workload;
        _operation = workload.IsWrite ? BlockOperation.Write : BlockOperation.Read;
        _blocks = volume.SizeBytes / workload.BlockSize;
        _spanBytes = _blocks * workload.BlockSize;
        _laneOfSlot = new EngineLane[workload.QueueDepth];
        _buffers = new AlignedBuffer[workload.QueueDepth];
        _bufferAddresses = new nint[workload.QueueDepth];
        var random = new Random((int)seed);
        for (int slot = 0; slot < _buffers.Length; slot++)
        {
            _laneOfSlot[slot] = lanes is { Count: > 0 } ? lanes[slot % lanes.Count] : EngineLane.Unbound;
            _buffers[slot] = _laneOfSlot[slot].RentBuffer(workload.BlockSize);
            // Writes carry non-zero data, as fio's do: some devices and filesystems shortcut zeroes.
            random.NextBytes(_buffers[slot].Span);
            _bufferAddresses[slot] = _buffers[slot].Address;
        }
        _startedAt = new long[workload.QueueDepth];
        _random = new ulong[workload.QueueDepth];
        for (int slot = 0; slot < _random.Length; slot++)
        {
            _random[slot] = (seed + 1) * 0x9E3779B97F4A7C15UL + (ulong)slot * 0xBF58476D1CE4E5B9UL | 1;
        }
    }

    /// <summary>Warms up, measures for <paramref name="duration"/>, drains. Call once per instance.</summary>
    /// <exception cref="IOException">A request failed (the errno is in the message).</exception>
    public EngineMeasurement Run(TimeSpan warmUp, TimeSpan duration)
    {
        Volatile.Write(ref _inFlight, _workload.QueueDepth);
        for (int slot = 0; slot < _workload.QueueDepth; slot++)
        {
            SubmitNext(slot);
        }

        Thread.Sleep(warmUp);
        ProcessUsage usageBefore = ProcessUsage.Now();
        long start = Stopwatch.GetTimestamp();
        Volatile.Write(ref _phase, Measuring);
        Thread.Sleep(duration);
        Volatile.Write(ref _phase, Draining);
        long end = Stopwatch.GetTimestamp();
        long ios = Volatile.Read(ref _completed);
        ProcessUsage usage = ProcessUsage.Now() - usageBefore;

        if (!_drained.Wait(DrainWait))
        {
            throw new TimeoutException($"{_workload.Name}: {Volatile.Read(ref _inFlight)} requests still in flight after {DrainWait.TotalSeconds} s.");
        }
        int error = Volatile.Read(ref _firstError);
        if (error != 0)
        {
            throw new IOException($"{_workload.Name}: a request failed with errno {error}.");
        }

        double seconds = Stopwatch.GetElapsedTime(start, end).TotalSeconds;
        return new EngineMeasurement(ios, seconds, ios / seconds, ios * (double)_workload.BlockSize / seconds,
            _latency.PercentileMicros(50), _latency.PercentileMicros(99),
            usage.CpuTime.TotalMicroseconds / Math.Max(ios, 1), usage.ContextSwitches / (double)Math.Max(ios, 1));
    }

    public void OnBlockCompleted(ulong userData, int error)
    {
        long now = Stopwatch.GetTimestamp();
        int slot = (int)userData;
        int phase = Volatile.Read(ref _phase);
        if (error != 0)
        {
            _ = Interlocked.CompareExchange(ref _firstError, error, 0);
            phase = Draining; // this slot stops; the others finish their run
        }
        else if (phase == Measuring)
        {
            _ = Interlocked.Increment(ref _completed);
            _latency.Record(now - _startedAt[slot]);
        }

        if (phase == Draining)
        {
            if (Interlocked.Decrement(ref _inFlight) == 0)
            {
                _drained.Set();
            }
            return;
        }
        SubmitNext(slot);
    }

    public void Dispose()
    {
        // Only after Run drained: the kernel no longer touches the buffers.
        foreach (AlignedBuffer buffer in _buffers)
        {
            buffer.Dispose();
        }
        _drained.Dispose();
    }

    private void SubmitNext(int slot)
    {
        long offset = _workload.IsRandom ? NextRandomOffset(slot) : NextSequentialOffset();
        var request = new BlockRequest(_operation, offset, _workload.BlockSize, _bufferAddresses[slot], BlockFlags.None, _laneOfSlot[slot]);
        _startedAt[slot] = Stopwatch.GetTimestamp();
        _volume.Submit(in request, this, (ulong)slot);
    }

    /// <summary>A uniformly random block (xorshift64 per slot, scaled by a multiply, not a division).</summary>
    private long NextRandomOffset(int slot)
    {
        ulong x = _random[slot];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        _random[slot] = x;
        ulong block = Math.BigMul(x, (ulong)_blocks, out _);
        return (long)block * _workload.BlockSize;
    }

    /// <summary>The next block in file order across all slots, wrapping at the end as fio's time_based does.</summary>
    private long NextSequentialOffset()
    {
        long position = Interlocked.Add(ref _nextSequential, _workload.BlockSize) - _workload.BlockSize;
        return position % _spanBytes;
    }
}
