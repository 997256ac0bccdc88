using NovaStor.BlockEngine.Native;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine.Tests;

/// <summary>
/// The behavioural suite on block devices: each volume is a fresh loop device over a sparse temp
/// file of the volume's size, opened alternately as the whole device (size 0) and by its size.
/// </summary>
public abstract class LoopDeviceBehaviourTests : VolumeBehaviourTests
{
    private readonly List<LoopDevice> _devices = [];
    private int _count;

    protected abstract IBlockVolume Open(string devicePath, long sizeBytes, int blockSize);

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
    {
        LoopDevice device = LoopDevice.Create(sizeBytes);
        _devices.Add(device);
        return Open(device.DevicePath, _count++ % 2 == 0 ? 0 : sizeBytes, blockSize);
    }

    public override void Dispose()
    {
        try
        {
            base.Dispose(); // closes the volumes first, so the devices detach at once
        }
        finally
        {
            foreach (LoopDevice device in _devices)
            {
                device.Dispose();
            }
        }
    }
}

public sealed class LoopDeviceFileVolumeBehaviourTests : LoopDeviceBehaviourTests
{
    protected override IBlockVolume Open(string devicePath, long sizeBytes, int blockSize)
        => FileVolume.OpenOrCreate(devicePath, sizeBytes, blockSize);
}

public sealed class LoopDeviceIoUringFileVolumeBehaviourTests : LoopDeviceBehaviourTests
{
    private readonly ReactorPool _reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2 });

    protected override IBlockVolume Open(string devicePath, long sizeBytes, int blockSize)
        => IoUringFileVolume.OpenOrCreate(devicePath, sizeBytes, blockSize, _reactors);

    public override void Dispose()
    {
        try
        {
            base.Dispose();
        }
        finally
        {
            _reactors.Dispose();
        }
    }
}

/// <summary>What only a block device shows: geometry from the kernel, refusals, BLKZEROOUT, BLKDISCARD.</summary>
public sealed class BlockDeviceTests
{
    [Fact]
    public void IoctlNumbersMatchTheKernelHeaders()
    {
        // include/uapi/linux/fs.h on x86-64 and arm64.
        Assert.Equal((nuint)0x1268, Libc.BLKSSZGET);
        Assert.Equal((nuint)0x1277, Libc.BLKDISCARD);
        Assert.Equal((nuint)0x127f, Libc.BLKZEROOUT);
        Assert.Equal((nuint)0x80081272, Libc.BLKGETSIZE64);
    }

    [Fact]
    public async Task TheSizeComesFromTheDeviceAndTheDeviceIsNeverResized()
    {
        using var device = LoopDevice.Create(8L << 20);
        using (FileVolume whole = FileVolume.OpenOrCreate(device.DevicePath, 0, 4096))
        {
            Assert.True(whole.IsBlockDevice);
            Assert.False(whole.Created);
            Assert.True(whole.UsesDirectIo);
            Assert.False(whole.DeallocatedReadsZeroes);
            Assert.Equal(8L << 20, whole.SizeBytes);
            Assert.Equal(512, whole.BufferAlignment);
        }

        using (FileVolume prefix = FileVolume.OpenOrCreate(device.DevicePath, 4L << 20, 512))
        {
            Assert.Equal(4L << 20, prefix.SizeBytes);
            using var buffer = new AlignedBuffer(4096);
            Assert.Equal(Errno.ERANGE, await prefix.ReadAsync(4L << 20, buffer));
            Assert.Equal(0, await prefix.ReadAsync((4L << 20) - 4096, buffer));
        }

        ArgumentOutOfRangeException tooBig = Assert.Throws<ArgumentOutOfRangeException>(
            () => FileVolume.OpenOrCreate(device.DevicePath, 16L << 20, 4096));
        Assert.Contains(device.DevicePath, tooBig.Message, StringComparison.Ordinal);
        Assert.Contains((8L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), tooBig.Message, StringComparison.Ordinal);
        Assert.Equal(8L << 20, new FileInfo(device.BackingFile).Length);
    }

    [Fact]
    public void ABlockSizeSmallerThanTheDevicesIsRefusedWithBothSizes()
    {
        using var device = LoopDevice.Create(8L << 20, sectorSize: 4096);
        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(
            () => FileVolume.OpenOrCreate(device.DevicePath, 0, 512));
        Assert.Contains("4096", error.Message, StringComparison.Ordinal);
        Assert.Contains("512", error.Message, StringComparison.Ordinal);
        Assert.Contains(device.DevicePath, error.Message, StringComparison.Ordinal);

        using FileVolume volume = FileVolume.OpenOrCreate(device.DevicePath, 0, 4096);
        Assert.Equal(4096, volume.BlockSize);
        Assert.InRange(volume.BufferAlignment, 512, 4096); // statx: the device's DMA alignment, not its sector size
    }

    [Fact]
    public void ADeviceInUseIsRefused()
    {
        using var device = LoopDevice.Create(4L << 20);
        using FileVolume first = FileVolume.OpenOrCreate(device.DevicePath, 0, 4096);
        IOException error = Assert.Throws<IOException>(() => FileVolume.OpenOrCreate(device.DevicePath, 0, 4096));
        Assert.Equal(Errno.EBUSY, error.HResult);
    }

    [Theory]
    [InlineData(false, 512)]
    [InlineData(false, 4096)]
    [InlineData(true, 512)]
    [InlineData(true, 4096)]
    public async Task WriteZeroesZeroesExactlyTheRangeOnTheDevice(bool ioUring, int blockSize)
    {
        using var device = LoopDevice.Create(8L << 20);
        using ReactorPool? reactors = ioUring ? ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2 }) : null;
        using (IBlockVolume volume = Open(device, blockSize, reactors))
        {
            await volume.WriteBytesAsync(0, Ones(4 << 20));
            long offset = 3L * blockSize;
            long length = (1L << 20) + (5L * blockSize);
            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.WriteZeroes, offset, length, 0, BlockFlags.ForceUnitAccess)));

            byte[] back = await volume.ReadBytesAsync(0, 4 << 20);
            AssertZeroedExactly(back, offset, length);
            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        }
        // And on the medium itself, as the next reader of the device sees it.
        AssertZeroedExactly(device.ReadBacking(0, 4 << 20), 3L * blockSize, (1L << 20) + (5L * blockSize));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DeallocateDiscardsAndKeepsTheNeighbours(bool ioUring)
    {
        using var device = LoopDevice.Create(8L << 20);
        using ReactorPool? reactors = ioUring ? ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2 }) : null;
        using (IBlockVolume volume = Open(device, 4096, reactors))
        {
            Assert.False(volume.DeallocatedReadsZeroes);
            await volume.WriteBytesAsync(0, Ones(8 << 20));
            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
            long before = Libc.GetAllocatedBytes(device.BackingFile);

            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Deallocate, 1L << 20, 4L << 20)));
            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Deallocate, 6L << 20, 4096, 0, BlockFlags.ForceUnitAccess)));
            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));

            byte[] back = await volume.ReadBytesAsync(0, 8 << 20);
            Assert.True(back.AsSpan(0, 1 << 20).IndexOfAnyExcept((byte)1) < 0, "the blocks before the range changed");
            Assert.True(back.AsSpan(5 << 20, 1 << 20).IndexOfAnyExcept((byte)1) < 0, "the blocks after the range changed");
            // The loop driver turns a discard into a hole in its backing file: proof it reached the device.
            long after = Libc.GetAllocatedBytes(device.BackingFile);
            Assert.True(after <= before - (4L << 20), $"{before} bytes allocated before the discard, {after} after");
        }
    }

    [Fact]
    public async Task FlushAndFuaWritesReachTheMedium()
    {
        using var device = LoopDevice.Create(4L << 20);
        byte[] data = new byte[64 * 1024];
        new Random(7).NextBytes(data);
        using (FileVolume volume = FileVolume.OpenOrCreate(device.DevicePath, 0, 512))
        {
            await volume.WriteBytesAsync(512 * 3, data, BlockFlags.ForceUnitAccess);
            await volume.WriteBytesAsync(1L << 20, data);
            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        }
        Assert.Equal(data, device.ReadBacking(512 * 3, data.Length));
        Assert.Equal(data, device.ReadBacking(1L << 20, data.Length));
    }

    [Fact]
    public void ARegularFileWithAlignmentAboveTheBlockSizeIsRefusedAndNotLeftBehind()
    {
        using var filesystem = new FourKibibyteFilesystem();
        string path = filesystem.File("small-blocks.img");
        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(
            () => FileVolume.OpenOrCreate(path, 1L << 20, 512));
        Assert.Contains("4096", error.Message, StringComparison.Ordinal);
        Assert.Contains("512", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path), "the refused volume's new file was left behind");

        using FileVolume volume = FileVolume.OpenOrCreate(path, 1L << 20, 4096);
        Assert.True(volume.UsesDirectIo);
    }

    private static IBlockVolume Open(LoopDevice device, int blockSize, ReactorPool? reactors)
        => reactors is null
            ? FileVolume.OpenOrCreate(device.DevicePath, 0, blockSize)
            : IoUringFileVolume.OpenOrCreate(device.DevicePath, 0, blockSize, reactors);

    private static byte[] Ones(int length)
    {
        byte[] data = new byte[length];
        data.AsSpan().Fill(1);
        return data;
    }

    private static void AssertZeroedExactly(byte[] data, long offset, long length)
    {
        Assert.True(data.AsSpan(0, (int)offset).IndexOfAnyExcept((byte)1) < 0, "bytes before the range changed");
        Assert.True(data.AsSpan((int)offset, (int)length).IndexOfAnyExcept((byte)0) < 0, "the range was not zeroed");
        Assert.True(data.AsSpan((int)(offset + length)).IndexOfAnyExcept((byte)1) < 0, "bytes after the range changed");
    }
}
