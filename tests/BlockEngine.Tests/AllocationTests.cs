namespace NovaStor.BlockEngine.Tests;

[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// Steady-state requests must not allocate: pooled work items, no closures, no tasks. Measured over
/// the whole process (submitting thread and thread-pool workers), alone, after a warm-up.
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed class AllocationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void MemoryVolumeRequestsDoNotAllocate()
    {
        using var volume = new MemoryVolume(16L << 20, 4096);
        AssertNoAllocationPerRequest(volume);
    }

    [Fact]
    public void FileVolumeRequestsDoNotAllocate()
    {
        using FileVolume volume = FileVolume.OpenOrCreate(_directory.File("alloc.img"), 16L << 20, 4096);
        AssertNoAllocationPerRequest(volume);
    }

    private static void AssertNoAllocationPerRequest(IBlockVolume volume)
    {
        const int Depth = 32;
        const int Batches = 400; // 12800 requests
        using var buffers = new AlignedBuffer(Depth * 4096);
        using var batch = new BatchCompletion();

        RunBatches(volume, buffers, batch, Depth, 50); // warm up: pool items, thread-pool workers, JIT

        // The count is process wide, so the test runner's own work (reporting the previous test)
        // can land in one round; a per-request allocation would show in every round.
        long fewest = long.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            RunBatches(volume, buffers, batch, Depth, Batches);
            fewest = Math.Min(fewest, GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        Assert.Equal(0, batch.Failures);
        // One object per request would be >= 24 bytes each, about 300 KB a round; allow for stray
        // runtime allocations (thread-pool bookkeeping, timers) that do not scale with requests.
        Assert.True(fewest < 16 * 1024, $"{fewest} bytes allocated for {Depth * Batches} requests in the best of 5 rounds");
    }

    private static void RunBatches(IBlockVolume volume, AlignedBuffer buffers, BatchCompletion batch, int depth, int batches)
    {
        for (int b = 0; b < batches; b++)
        {
            batch.Reset(depth);
            for (int i = 0; i < depth; i++)
            {
                var operation = (i & 1) == 0 ? BlockOperation.Write : BlockOperation.Read;
                long offset = (((long)b * depth) + i) % 4096 * 4096;
                var request = new BlockRequest(operation, offset, 4096, buffers.Address + (i * 4096));
                volume.Submit(in request, batch, (ulong)i);
            }
            Assert.True(batch.Done.Wait(VolumeTestExtensions.Timeout), "a batch did not complete");
        }
    }
}
