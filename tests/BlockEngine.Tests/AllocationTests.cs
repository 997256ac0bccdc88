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

    private static void AssertNoAllocationPerRequest(IBlockVolume volume) => RequestAllocation.AssertNone(volume, RequestAllocation.ReadsAndWrites);
}
