using NovaStor.BlockEngine.Aio;

namespace NovaStor.BlockEngine.Tests;

/// <summary>The behavioural suite on the native AIO engine, a file in the temp directory (ext4/xfs: O_DIRECT), two reactors.</summary>
public sealed class AioFileVolumeBehaviourTests : VolumeBehaviourTests
{
    private readonly TempDirectory _directory = new();
    private readonly AioReactorPool _reactors = new(count: 2);
    private int _count;

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => AioFileVolume.Create(FileVolume.OpenOrCreate(_directory.File($"v{_count++}.img"), sizeBytes, blockSize), _reactors);

    public override void Dispose()
    {
        base.Dispose();
        _reactors.Dispose();
        _directory.Dispose();
    }
}

/// <summary>The suite on the AIO engine with a context of four: requests constantly wait for a free slot.</summary>
public sealed class TinyContextAioFileVolumeBehaviourTests : VolumeBehaviourTests
{
    private readonly TempDirectory _directory = new();
    private readonly AioReactorPool _reactors = new(count: 1, capacity: 4);
    private int _count;

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => AioFileVolume.Create(FileVolume.OpenOrCreate(_directory.File($"v{_count++}.img"), sizeBytes, blockSize), _reactors);

    public override void Dispose()
    {
        base.Dispose();
        _reactors.Dispose();
        _directory.Dispose();
    }
}

/// <summary>The suite through <see cref="BlockEngineHost"/> with the AIO engine on tmpfs, where O_DIRECT is impossible: served positionally.</summary>
public sealed class ShmAioEngineBehaviourTests : VolumeBehaviourTests
{
    private readonly TempDirectory _directory = new(Directory.Exists("/dev/shm") ? "/dev/shm" : null);
    private readonly BlockEngineHost _engine = BlockEngineHost.Create(EngineKind.Aio);
    private int _count;

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => _engine.OpenOrCreate(_directory.File($"v{_count++}.img"), sizeBytes, blockSize);

    public override void Dispose()
    {
        base.Dispose();
        _engine.Dispose();
        _directory.Dispose();
    }
}
