using System.Buffers;
using System.Collections.Concurrent;

namespace NovaStor.Benchmarks;

/// <summary>
/// 4 KiB pinned blocks, pooled without a cap: what Kestrel's pinned block pool gives a
/// connection's pipes. The default pipe pool (ArrayPool.Shared) keeps only a few dozen arrays of
/// a size per core and drops the rest, so a batch of 64 writes of 4 KiB would allocate in the
/// benchmark's own host side and be counted against the target.
/// </summary>
internal sealed class BlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 4096;

    private readonly ConcurrentQueue<Block> _free = new();

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        return _free.TryDequeue(out var block) ? block : new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
    }

    private sealed class Block(BlockMemoryPool pool) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = GC.AllocateArray<byte>(BlockSize, pinned: true);

        public void Dispose() => pool._free.Enqueue(this);
    }
}
