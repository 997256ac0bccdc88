using NovaStor.BlockEngine;

namespace NovaStor.Benchmarks;

/// <summary>
/// Runs a fixed number of 4 KiB requests against a volume with a fixed number in flight and waits
/// for the last one, allocating nothing itself: one reused completion object, one aligned slab of
/// buffers (one per slot), per-slot xorshift offsets, and a <see cref="ManualResetEventSlim"/>
/// whose wait object exists after the first batch. A completion resubmits its slot from the engine
/// thread, so the engine sees a steady queue depth, not bursts.
/// </summary>
internal sealed class EngineBatch : IBlockCompletion, IDisposable
{
    private readonly IBlockVolume _volume;
    private readonly int _operations;
    private readonly int _depth;
    private readonly int _transferLength;
    private readonly long _blocks;
    private readonly AlignedBuffer _buffers;
    private readonly EngineLane _lane;
    private readonly ulong[] _random;
    private readonly ManualResetEventSlim _done = new(false);
    private BlockOperation _operation;
    private int _issued;
    private int _completed;
    private int _failures;

    /// <param name="lane">Where the requests run and the buffers come from (a reactor's registered memory), or unbound.</param>
    public EngineBatch(IBlockVolume volume, int operations, int depth, int transferLength, EngineLane? lane = null)
    {
        _lane = lane ?? EngineLane.Unbound;
        _volume = volume;
        _operations = operations;
        _depth = Math.Min(depth, operations);
        _transferLength = transferLength;
        _blocks = volume.SizeBytes / transferLength;
        _buffers = _lane.RentBuffer(_depth * transferLength);
        new Random(7).NextBytes(_buffers.Span);
        _random = new ulong[_depth];
        for (int slot = 0; slot < _random.Length; slot++)
        {
            _random[slot] = 0x9E3779B97F4A7C15UL * (ulong)(slot + 1);
        }
    }

    /// <summary>Requests that completed with an error so far (the benchmark checks it stays 0).</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>Submits <c>operations</c> requests of one kind, <c>depth</c> at a time, and waits for all.</summary>
    public void Run(BlockOperation operation)
    {
        _operation = operation;
        _done.Reset();
        Volatile.Write(ref _completed, 0);
        Volatile.Write(ref _issued, _depth);
        for (int slot = 0; slot < _depth; slot++)
        {
            Submit(slot);
        }
        _done.Wait();
    }

    public void OnBlockCompleted(ulong userData, int error)
    {
        if (error != 0)
        {
            _ = Interlocked.Increment(ref _failures);
        }
        if (Interlocked.Increment(ref _issued) <= _operations)
        {
            Submit((int)userData);
        }
        if (Interlocked.Increment(ref _completed) == _operations)
        {
            _done.Set();
        }
    }

    public void Dispose()
    {
        _buffers.Dispose();
        _done.Dispose();
    }

    private void Submit(int slot)
    {
        ulong x = _random[slot];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        _random[slot] = x;
        long offset = (long)Math.BigMul(x, (ulong)_blocks, out _) * _transferLength;
        var request = new BlockRequest(_operation, offset, _transferLength, _buffers.Address + slot * _transferLength, BlockFlags.None, _lane);
        _volume.Submit(in request, this, (ulong)slot);
    }
}
