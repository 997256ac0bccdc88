using System.Runtime.InteropServices;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Tests;

/// <summary>What only a file can show: thinness, persistence, O_DIRECT, creation rules.</summary>
public sealed class FileVolumeTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void StatxLayoutMatchesTheKernelHeader()
    {
        // include/uapi/linux/stat.h: 256 bytes; stx_size 0x28, stx_blocks 0x30, dio aligns 0x98/0x9c.
        Assert.Equal(256, Marshal.SizeOf<Libc.StatX>());
        Assert.Equal(0x28, (int)Marshal.OffsetOf<Libc.StatX>(nameof(Libc.StatX.Size)));
        Assert.Equal(0x30, (int)Marshal.OffsetOf<Libc.StatX>(nameof(Libc.StatX.Blocks)));
        Assert.Equal(0x98, (int)Marshal.OffsetOf<Libc.StatX>(nameof(Libc.StatX.DioMemAlign)));
        Assert.Equal(0x9c, (int)Marshal.OffsetOf<Libc.StatX>(nameof(Libc.StatX.DioOffsetAlign)));
        Assert.Equal(16, Marshal.SizeOf<Libc.Iovec>());
    }

    [Fact]
    public void StatxReportsWhatTheRuntimeSees()
    {
        string path = _directory.File("sized");
        File.WriteAllBytes(path, new byte[12345]);
        Assert.Equal(0, Libc.Statx(path, Libc.STATX_BASIC_STATS, out Libc.StatX st));
        Assert.Equal(12345UL, st.Size);
        Assert.Equal(Libc.S_IFREG, (ushort)(st.Mode & Libc.S_IFMT));
        Assert.True(st.Blocks * 512 >= 12345, $"{st.Blocks} blocks for 12345 bytes");
    }

    [Fact]
    public void OneGibibyteThinFileAllocatesAlmostNothing()
    {
        string path = _directory.File("thin.img");
        using (FileVolume volume = FileVolume.OpenOrCreate(path, 1L << 30, 4096))
        {
            Assert.True(volume.Created);
            Assert.Equal(1L << 30, volume.SizeBytes);
        }
        Assert.Equal(1L << 30, new FileInfo(path).Length);
        long allocated = Libc.GetAllocatedBytes(path);
        Assert.InRange(allocated, 0, 1 << 20);
    }

    [Fact]
    public async Task DeallocateReleasesSpaceAndWriteZeroesKeepsTheSize()
    {
        string path = _directory.File("punch.img");
        using FileVolume volume = FileVolume.OpenOrCreate(path, 64L << 20, 4096);
        Assert.True(volume.DeallocatedReadsZeroes, "ext4/xfs support PUNCH_HOLE");
        using var data = new AlignedBuffer(8 << 20);
        data.Span.Fill(0xA5);
        Assert.Equal(0, await volume.WriteAsync(0, data));
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        long written = Libc.GetAllocatedBytes(path);
        Assert.True(written >= 8 << 20, $"only {written} bytes allocated after writing 8 MiB");

        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Deallocate, 0, 8 << 20)));
        long released = Libc.GetAllocatedBytes(path);
        Assert.True(released < 1 << 20, $"{released} bytes still allocated after deallocating");

        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.WriteZeroes, 16L << 20, 4L << 20)));
        Assert.Equal(64L << 20, new FileInfo(path).Length); // KEEP_SIZE
        Assert.True((await volume.ReadBytesAsync(0, 8 << 20)).AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public async Task DataPersistsAcrossDisposeAndReopen()
    {
        string path = _directory.File("persist.img");
        byte[] first = RandomBytes(64 * 1024, 1);
        byte[] second = RandomBytes(4096, 2);
        using (FileVolume volume = FileVolume.OpenOrCreate(path, 16L << 20, 4096))
        {
            await volume.WriteBytesAsync(4L << 20, first);
            await volume.WriteBytesAsync((16L << 20) - 4096, second, BlockFlags.ForceUnitAccess);
            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        }

        using (FileVolume volume = FileVolume.OpenOrCreate(path, 16L << 20, 4096))
        {
            Assert.False(volume.Created);
            Assert.Equal(first, await volume.ReadBytesAsync(4L << 20, first.Length));
            Assert.Equal(second, await volume.ReadBytesAsync((16L << 20) - 4096, second.Length));
        }

        // Also visible to anyone reading the file.
        byte[] raw = new byte[first.Length];
        using (FileStream stream = File.OpenRead(path))
        {
            stream.Position = 4L << 20;
            stream.ReadExactly(raw);
        }
        Assert.Equal(first, raw);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public void DirectIoIsUsedWhereTheFilesystemReportsItsAlignment(int blockSize)
    {
        string path = _directory.File("direct.img");
        File.WriteAllBytes(path, []);
        Assert.Equal(0, Libc.Statx(path, Libc.STATX_DIOALIGN, out Libc.StatX st));
        File.Delete(path);
        bool filesystemReports = (st.Mask & Libc.STATX_DIOALIGN) != 0 && st.DioOffsetAlign != 0;
        // The repository's temp directory is on ext4/xfs: the premise of this test must hold here.
        Assert.True(filesystemReports, $"statx reports no direct I/O alignment for {Path.GetTempPath()}");

        var logger = new ListLogger();
        if (st.DioOffsetAlign > blockSize)
        {
            // A block size below the O_DIRECT alignment is refused, never served buffered.
            Assert.Throws<ArgumentOutOfRangeException>(() => FileVolume.OpenOrCreate(path, 1L << 20, blockSize, logger));
            Assert.False(File.Exists(path));
            return;
        }
        using FileVolume volume = FileVolume.OpenOrCreate(path, 1L << 20, blockSize, logger);
        Assert.True(volume.UsesDirectIo);
        Assert.True(HasODirect(volume.FileDescriptor));
        Assert.False(volume.IsBlockDevice);
        Assert.Equal((int)Math.Max(st.DioMemAlign, 512), volume.BufferAlignment);
        Assert.False(logger.Contains("buffered I/O"));
    }

    [Fact]
    public async Task TmpfsFallsBackToBufferedIoAndSaysSo()
    {
        if (!Directory.Exists("/dev/shm"))
        {
            return; // nothing to exercise on this machine
        }
        using var shm = new TempDirectory("/dev/shm");
        string path = shm.File("buffered.img");
        var logger = new ListLogger();
        using FileVolume volume = FileVolume.OpenOrCreate(path, 4L << 20, 4096, logger);
        Assert.Equal(0, Libc.Statx(path, Libc.STATX_DIOALIGN, out Libc.StatX st));
        if ((st.Mask & Libc.STATX_DIOALIGN) == 0 || st.DioOffsetAlign == 0)
        {
            Assert.False(volume.UsesDirectIo);
            Assert.False(HasODirect(volume.FileDescriptor));
            Assert.Equal(AlignedBuffer.Alignment, volume.BufferAlignment);
            Assert.True(logger.Contains("buffered I/O"), string.Join('\n', logger.Entries));
        }
        // Whatever the mode, the data path and its fallbacks work (tmpfs has no ZERO_RANGE).
        await volume.WriteBytesAsync(0, RandomBytes(64 * 1024, 3), BlockFlags.ForceUnitAccess);
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.WriteZeroes, 4096, 8192)));
        byte[] back = await volume.ReadBytesAsync(0, 64 * 1024);
        Assert.Equal(RandomBytes(64 * 1024, 3).AsSpan(0, 4096).ToArray(), back.AsSpan(0, 4096).ToArray());
        Assert.True(back.AsSpan(4096, 8192).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(RandomBytes(64 * 1024, 3).AsSpan(12288).ToArray(), back.AsSpan(12288).ToArray());
    }

    [Fact]
    public async Task BufferedModeCanBeForcedAndStillWorks()
    {
        string path = _directory.File("forced.img");
        var logger = new ListLogger();
        using FileVolume volume = FileVolume.OpenOrCreate(path, 1L << 20, 512, logger, allowDirectIo: false);
        Assert.False(volume.UsesDirectIo);
        Assert.False(HasODirect(volume.FileDescriptor));
        Assert.True(logger.Contains("buffered I/O"));
        byte[] data = RandomBytes(512 * 3, 4);
        await volume.WriteBytesAsync(512 * 7, data, BlockFlags.ForceUnitAccess);
        Assert.Equal(data, await volume.ReadBytesAsync(512 * 7, data.Length));
    }

    [Fact]
    public async Task AnExistingFileKeepsItsOwnSize()
    {
        string path = _directory.File("existing.img");
        using (FileVolume created = FileVolume.OpenOrCreate(path, 8L << 20, 4096))
        {
            await created.WriteBytesAsync(0, RandomBytes(4096, 5));
        }
        var logger = new ListLogger();
        using FileVolume reopened = FileVolume.OpenOrCreate(path, 2L << 20, 512, logger);
        Assert.False(reopened.Created);
        Assert.Equal(8L << 20, reopened.SizeBytes);
        Assert.Equal(512, reopened.BlockSize);
        Assert.Equal(8L << 20, new FileInfo(path).Length);
        Assert.True(logger.Contains("keeps its size"));
        Assert.Equal(RandomBytes(4096, 5), await reopened.ReadBytesAsync(0, 4096));
    }

    [Theory]
    [InlineData(1L << 20, 1024)]
    [InlineData(1L << 20, 0)]
    [InlineData(1L << 20, -512)]
    [InlineData(1000, 512)]
    [InlineData(0, 512)]
    [InlineData(-4096, 4096)]
    [InlineData((1L << 20) + 512, 4096)]
    public void BadSizesAreRefusedBeforeTouchingTheDisk(long sizeBytes, int blockSize)
    {
        string path = _directory.File("bad.img");
        Assert.Throws<ArgumentOutOfRangeException>(() => FileVolume.OpenOrCreate(path, sizeBytes, blockSize));
        Assert.False(File.Exists(path));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData(4096 + 512)]
    public void AnExistingFileWhoseSizeIsNotWholeBlocksIsRefused(int length)
    {
        string path = _directory.File("odd.img");
        File.WriteAllBytes(path, new byte[length]);
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => FileVolume.OpenOrCreate(path, 1L << 20, 4096));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Equal(length, new FileInfo(path).Length); // untouched
    }

    [Fact]
    public void ADirectoryIsNotAVolume()
    {
        Assert.ThrowsAny<IOException>(() => FileVolume.OpenOrCreate(_directory.FullPath, 1L << 20, 4096));
    }

    [Fact]
    public void AMissingDirectoryIsReported()
    {
        string path = Path.Combine(_directory.FullPath, "missing", "v.img");
        Assert.Throws<DirectoryNotFoundException>(() => FileVolume.OpenOrCreate(path, 1L << 20, 4096));
    }

    [Fact]
    public async Task ARequestLargerThanTheZeroChunkIsZeroedEverywhere()
    {
        // 3 MiB + 4 KiB of Write Zeroes on tmpfs runs the write-zeroes fallback over several chunks;
        // on ext4 it is one fallocate. Either way every byte must read zero.
        foreach (string? root in new[] { null, Directory.Exists("/dev/shm") ? "/dev/shm" : null })
        {
            using var directory = new TempDirectory(root);
            using FileVolume volume = FileVolume.OpenOrCreate(directory.File("big.img"), 8L << 20, 4096);
            using var ones = new AlignedBuffer(8 << 20);
            ones.Span.Fill(1);
            Assert.Equal(0, await volume.WriteAsync(0, ones));
            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.WriteZeroes, 4096, (3L << 20) + 4096)));
            byte[] back = await volume.ReadBytesAsync(0, 8 << 20);
            Assert.Equal(1, back[4095]);
            Assert.True(back.AsSpan(4096, (3 << 20) + 4096).IndexOfAnyExcept((byte)0) < 0);
            Assert.True(back.AsSpan(4096 + (3 << 20) + 4096).IndexOfAnyExcept((byte)1) < 0);
        }
    }

    [Fact]
    public async Task DisposeWaitsForAcceptedRequestsThenClosesTheFile()
    {
        const int Requests = 256;
        string path = _directory.File("closing.img");
        FileVolume volume = FileVolume.OpenOrCreate(path, 8L << 20, 4096);
        int fd = volume.FileDescriptor;
        Assert.Equal(path, OpenPath(fd));
        using var buffer = new AlignedBuffer(32 * 1024);
        buffer.Span.Fill(0x42);
        var tasks = new Task<int>[Requests];
        for (int i = 0; i < Requests; i++)
        {
            tasks[i] = volume.WriteAsync(i * 32L * 1024, buffer);
        }

        volume.Dispose();

        // Every accepted request has finished its I/O and the descriptor is closed (its number
        // may already belong to another test's file, never to this one).
        Assert.NotEqual(path, OpenPath(fd));
        Assert.All(await Task.WhenAll(tasks), r => Assert.Equal(0, r));
        byte[] raw = await File.ReadAllBytesAsync(path);
        Assert.True(raw.AsSpan().IndexOfAnyExcept((byte)0x42) < 0);
    }

    private static string? OpenPath(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Reads the open flags of a descriptor from /proc/self/fdinfo and tests O_DIRECT.</summary>
    private static bool HasODirect(int fd)
    {
        foreach (string line in File.ReadLines($"/proc/self/fdinfo/{fd}"))
        {
            if (line.StartsWith("flags:", StringComparison.Ordinal))
            {
                int flags = Convert.ToInt32(line["flags:".Length..].Trim(), 8);
                return (flags & Libc.O_DIRECT) != 0;
            }
        }
        throw new InvalidOperationException($"no flags line for fd {fd}");
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public void ErrnoDescriptionsComeFromLibc()
    {
        Assert.Equal(95, Errno.EOPNOTSUPP);
        Assert.Equal(34, Errno.ERANGE);
        Assert.Contains("nput/output", Errno.Describe(Errno.EIO), StringComparison.Ordinal);
    }
}
