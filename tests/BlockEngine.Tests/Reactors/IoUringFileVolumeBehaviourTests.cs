using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine.Tests;

/// <summary>The behavioural suite on the io_uring engine, a file in the temp directory (ext4/xfs: O_DIRECT), two reactors.</summary>
public sealed class IoUringFileVolumeBehaviourTests : VolumeBehaviourTests
{
    private readonly TempDirectory _directory = new();
    private readonly ReactorPool _reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2 });
    private int _count;

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => IoUringFileVolume.OpenOrCreate(_directory.File($"v{_count++}.img"), sizeBytes, blockSize, _reactors);

    public override void Dispose()
    {
        base.Dispose();
        _reactors.Dispose();
        _directory.Dispose();
    }
}

/// <summary>
/// The suite on tmpfs (/dev/shm) with a tiny ring: buffered I/O, the Write Zeroes fallback, constant
/// backpressure; and submissions only once per reap (SubmitEvery 0), where the default submits every 4,
/// with every disk request of a loop pass in one submission (DiskSubmitBatch 0), where the default
/// submits each as it is prepared.
/// </summary>
public sealed class ShmIoUringFileVolumeBehaviourTests : VolumeBehaviourTests
{
    private readonly TempDirectory _directory = new(Directory.Exists("/dev/shm") ? "/dev/shm" : null);
    private readonly ReactorPool _reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { RingEntries = 4, SubmitEvery = 0, DiskSubmitBatch = 0 });
    private int _count;

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => IoUringFileVolume.OpenOrCreate(_directory.File($"v{_count++}.img"), sizeBytes, blockSize, _reactors);

    public override void Dispose()
    {
        base.Dispose();
        _reactors.Dispose();
        _directory.Dispose();
    }
}

/// <summary>The suite with SQPOLL rings (a kernel thread consumes submissions) on two reactors, disk requests published three at a time.</summary>
public sealed class SqPollIoUringFileVolumeBehaviourTests : VolumeBehaviourTests
{
    private readonly TempDirectory _directory = new();
    private readonly ReactorPool _reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2, SubmissionPolling = true, DiskSubmitBatch = 3 });
    private int _count;

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => IoUringFileVolume.OpenOrCreate(_directory.File($"v{_count++}.img"), sizeBytes, blockSize, _reactors);

    public override void Dispose()
    {
        base.Dispose();
        _reactors.Dispose();
        _directory.Dispose();
    }
}

internal static class ReactorTestSupport
{
    /// <summary>A pool; io_uring being unavailable fails the test with the reason.</summary>
    public static ReactorPool CreatePool(ReactorPoolOptions? options = null)
    {
        Assert.True(IoUringFileVolume.IsSupported(out string reason), reason);
        return new ReactorPool(options);
    }
}
