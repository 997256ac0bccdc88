using NovaStor.BlockEngine.Volumes;

namespace NovaStor.BlockEngine.Tests.Volumes;

/// <summary>Striped volumes for tests: small chunks, so requests cross chunk boundaries often.</summary>
internal static class StripedTestVolumes
{
    public const int SmallChunk = 8 * 1024;

    public static readonly ulong[] Ids = [101, 202, 303];

    /// <summary>Uneven on purpose, so ownership is not a round robin in disguise.</summary>
    public static readonly double[] Weights = [1, 2, 3];

    public static readonly Guid VolumeId = new("6e6f7661-7374-4f72-a000-0000000000ab");

    /// <summary>A striped volume over three MemoryVolumes, which are returned too (to look inside).</summary>
    public static StripedVolume OverMemory(long sizeBytes, int blockSize, out MemoryVolume[] members, int chunkBytes = SmallChunk)
    {
        members = [new(sizeBytes, blockSize), new(sizeBytes, blockSize), new(sizeBytes, blockSize)];
        return new StripedVolume(VolumeId, members, Ids, Weights, chunkBytes);
    }
}

/// <summary>A member that answers every request with one errno, from the thread pool, and counts its disposals.</summary>
internal sealed class StubVolume(long sizeBytes, int blockSize, int bufferAlignment = 4096, bool deallocatedReadsZeroes = true, int errno = 0) : IBlockVolume
{
    public int Disposals;

    public long SizeBytes => sizeBytes;

    public int BlockSize => blockSize;

    public int BufferAlignment => bufferAlignment;

    public bool DeallocatedReadsZeroes => deallocatedReadsZeroes;

    public void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
        => ThreadPool.QueueUserWorkItem(_ => completion.OnBlockCompleted(userData, errno));

    public void Dispose() => Interlocked.Increment(ref Disposals);
}
