using NovaStor.BlockEngine.Volumes;

namespace NovaStor.BlockEngine.Tests.Volumes;

/// <summary>The shared suite on a volume striped over three MemoryVolumes in 8 KiB chunks.</summary>
public sealed class StripedMemoryVolumeBehaviourTests : VolumeBehaviourTests
{
    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => StripedTestVolumes.OverMemory(sizeBytes, blockSize, out _);
}

/// <summary>The shared suite on a volume striped over three files, each in its own directory (drive), in 8 KiB chunks.</summary>
public sealed class StripedFileVolumeBehaviourTests : VolumeBehaviourTests
{
    private readonly TempDirectory[] _drives = [new(), new(), new()];
    private int _count;

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
    {
        int n = _count++;
        var members = _drives.Select(d => (IBlockVolume)FileVolume.OpenOrCreate(d.File($"v{n}.img"), sizeBytes, blockSize)).ToArray();
        return new StripedVolume(Guid.NewGuid(), members, StripedTestVolumes.Ids, StripedTestVolumes.Weights, StripedTestVolumes.SmallChunk);
    }

    public override void Dispose()
    {
        base.Dispose();
        foreach (var drive in _drives)
        {
            drive.Dispose();
        }
    }
}
