using Microsoft.Win32.SafeHandles;
using NovaStor.BlockEngine.Allocation;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Tests.Allocation;

/// <summary>SEEK_DATA / SEEK_HOLE and statx on real sparse files (ext4 or xfs under the temp directory).</summary>
public sealed class AllocationMapTests : IDisposable
{
    private const long FileBytes = 64L << 20;
    private const int Region = 4096;

    // Far apart (megabytes), so no filesystem block or preallocation joins them.
    private static readonly long[] RegionOffsets = [1L << 20, 9L << 20, 40L << 20];

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void ThinFileHasNoDataAndNoAllocation()
    {
        string path = CreateThin("thin.img");
        Assert.Equal(0, AllocationMap.AllocatedBytes(path));
        Assert.Empty(AllocationMap.DataExtents(path, 0, FileBytes));
        Assert.Equal(0, AllocationMap.CountAllocatedBlocks(path, 4096));
        Assert.Equal(0, AllocationMap.CountAllocatedBlocks(path, 512));
    }

    [Fact]
    public void WrittenRegionsAreCoveredAndFarHolesStayHoles()
    {
        string path = CreateThin("data.img");
        using (SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            WriteRegions(handle);
            IReadOnlyList<(long Offset, long Length)> fromHandle = AllocationMap.DataExtents(handle, 0, FileBytes);
            AssertCoversExactlyTheRegions(fromHandle);
        }

        IReadOnlyList<(long Offset, long Length)> extents = AllocationMap.DataExtents(path, 0, FileBytes);
        AssertCoversExactlyTheRegions(extents);
        Assert.InRange(AllocationMap.AllocatedBytes(path), 3 * Region, 3 * (1 << 20));

        long blocks = AllocationMap.CountAllocatedBlocks(path, 4096);
        long dataBytes = 0;
        foreach ((_, long length) in extents)
        {
            dataBytes += length;
        }
        Assert.InRange(blocks, 3, 3 * 256);
        Assert.Equal(dataBytes / 4096, blocks); // extents are filesystem blocks, multiples of 4 KiB here
        Assert.Equal(blocks * 8, AllocationMap.CountAllocatedBlocks(path, 512));
    }

    [Fact]
    public void ExtentsAreClippedToTheQueriedRange()
    {
        string path = CreateThin("clip.img");
        using (SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            WriteRegions(handle);
        }
        long start = RegionOffsets[1] + 1024;
        long end = RegionOffsets[1] + 3072;
        Assert.Equal([(start, end - start)], AllocationMap.DataExtents(path, start, end));
        Assert.Empty(AllocationMap.DataExtents(path, 2L << 20, 8L << 20)); // between regions
        Assert.Empty(AllocationMap.DataExtents(path, FileBytes, long.MaxValue)); // past the end
        Assert.Empty(AllocationMap.DataExtents(path, 5, 5));
        Assert.Single(AllocationMap.DataExtents(path, RegionOffsets[2], long.MaxValue));
    }

    [Fact]
    public void PunchedHoleDisappearsFromTheExtents()
    {
        string path = CreateThin("punch.img");
        using (SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            WriteRegions(handle);
            int fd = (int)handle.DangerousGetHandle();
            Assert.Equal(0, Libc.Fdatasync(fd));
            int errno = Libc.Fallocate(fd, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, RegionOffsets[1], Region);
            Assert.True(errno == 0, $"PUNCH_HOLE failed: {Libc.Describe(errno)}");
        }

        IReadOnlyList<(long Offset, long Length)> extents = AllocationMap.DataExtents(path, 0, FileBytes);
        Assert.Equal(2, extents.Count);
        Assert.True(Covers(extents, RegionOffsets[0], Region));
        Assert.True(Covers(extents, RegionOffsets[2], Region));
        Assert.False(Intersects(extents, RegionOffsets[1], Region), Describe(extents));
        Assert.Equal(FileBytes, new FileInfo(path).Length); // KEEP_SIZE
    }

    [Fact]
    public void CountBlocksCountsSharedBlocksOnce()
    {
        // Extents finer than the block size (a 1 KiB-block filesystem under 4 KiB LBAs).
        var extents = new List<(long Offset, long Length)> { (0, 1024), (2048, 1024), (4096, 1), (12288, 8192) };
        Assert.Equal(4, AllocationMap.CountBlocks(extents, 4096)); // blocks 0, 1, 3, 4
        Assert.Equal(0, AllocationMap.CountBlocks([], 4096));
    }

    [Fact]
    public void BadArgumentsAndMissingFilesAreReported()
    {
        string path = CreateThin("args.img");
        Assert.Throws<ArgumentOutOfRangeException>(() => AllocationMap.DataExtents(path, -1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => AllocationMap.DataExtents(path, 10, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => AllocationMap.CountAllocatedBlocks(path, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AllocationMap.CountAllocatedBlocks(path, 1000));
        string missing = _directory.File("missing.img");
        Assert.Throws<FileNotFoundException>(() => AllocationMap.AllocatedBytes(missing));
        Assert.Throws<FileNotFoundException>(() => AllocationMap.DataExtents(missing, 0, 1));
        Assert.Throws<FileNotFoundException>(() => AllocationMap.CountAllocatedBlocks(missing, 4096));
    }

    private string CreateThin(string name)
    {
        string path = _directory.File(name);
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.SetLength(handle, FileBytes);
        return path;
    }

    private static void WriteRegions(SafeFileHandle handle)
    {
        byte[] data = new byte[Region];
        Array.Fill(data, (byte)0x5A);
        foreach (long offset in RegionOffsets)
        {
            RandomAccess.Write(handle, data, offset);
        }
        RandomAccess.FlushToDisk(handle); // delayed allocation: make the extents real before asking
    }

    private static void AssertCoversExactlyTheRegions(IReadOnlyList<(long Offset, long Length)> extents)
    {
        string text = Describe(extents);
        Assert.Equal(3, extents.Count);
        foreach (long offset in RegionOffsets)
        {
            Assert.True(Covers(extents, offset, Region), $"{offset} not covered: {text}");
        }
        // Holes between the far-apart regions stay holes: every extent stays within 1 MiB of a region.
        (long Offset, long Length) previous = (-1, 0);
        foreach ((long offset, long length) in extents)
        {
            Assert.True(length > 0 && offset >= previous.Offset + previous.Length, text);
            Assert.Contains(RegionOffsets, r => offset > r - (1 << 20) && offset + length < r + Region + (1 << 20));
            previous = (offset, length);
        }
        Assert.False(Intersects(extents, 2L << 20, 6L << 20), text);
        Assert.False(Intersects(extents, 11L << 20, 28L << 20), text);
    }

    private static bool Covers(IReadOnlyList<(long Offset, long Length)> extents, long offset, long length)
    {
        foreach ((long o, long l) in extents)
        {
            if (o <= offset && offset + length <= o + l)
            {
                return true;
            }
        }
        return false;
    }

    private static bool Intersects(IReadOnlyList<(long Offset, long Length)> extents, long offset, long length)
    {
        foreach ((long o, long l) in extents)
        {
            if (o < offset + length && offset < o + l)
            {
                return true;
            }
        }
        return false;
    }

    private static string Describe(IReadOnlyList<(long Offset, long Length)> extents)
        => string.Join(", ", extents.Select(e => $"[{e.Offset}, +{e.Length})"));
}
