using NovaStor.BlockEngine.Allocation;

namespace NovaStor.BlockEngine.Tests.Allocation;

public sealed class DirtyBitmapTests
{
    private const int K64 = 64 * 1024;

    [Fact]
    public void NewBitmapIsCleanAndSizedInRegions()
    {
        var bitmap = new DirtyBitmap((10L * K64) + 1);
        Assert.Equal(K64, bitmap.Granularity);
        Assert.Equal(11, bitmap.RegionCount);
        Assert.Equal(1, bitmap.WordCount);
        Assert.Equal(0, bitmap.DirtyRegionCount);
        Assert.False(bitmap.IsDirty(0));

        Assert.Equal(0, new DirtyBitmap(0).WordCount);
        Assert.Equal(2, new DirtyBitmap(65L * K64).WordCount);
        Assert.Equal(160L << 20, new DirtyBitmap(10L << 40).RegionCount); // 10 TiB: 160 Mi regions, 20 MiB of bits
    }

    [Fact]
    public void MarksSetExactlyTheCoveredRegions()
    {
        var bitmap = new DirtyBitmap(200L * K64);

        bitmap.MarkWritten(K64 - 512, 1024); // straddles regions 0 and 1
        AssertDirty(bitmap, 0, 1);

        bitmap.MarkWritten(3L * K64, K64); // exactly region 3, ends on the boundary
        AssertDirty(bitmap, 0, 1, 3);

        bitmap.MarkWritten((5L * K64) + 4096, 512); // inside region 5
        AssertDirty(bitmap, 0, 1, 3, 5);

        bitmap.MarkWritten(62L * K64, 70L * K64); // regions 62..131: crosses two word boundaries
        int[] expected = [0, 1, 3, 5, .. Enumerable.Range(62, 70)];
        AssertDirty(bitmap, expected);

        bitmap.MarkWritten(10L * K64, 0); // empty: nothing
        AssertDirty(bitmap, expected);
    }

    [Fact]
    public void OutOfRangeMarksAreClamped()
    {
        long volume = (10L * K64) + 4096; // last region partial
        var bitmap = new DirtyBitmap(volume);

        bitmap.MarkWritten(volume, 4096); // entirely past the end
        bitmap.MarkWritten(-8192, 4096); // entirely before the start
        bitmap.MarkWritten(long.MaxValue, long.MaxValue);
        bitmap.MarkWritten(long.MinValue, 1);
        bitmap.MarkWritten(0, -5);
        Assert.Equal(0, bitmap.DirtyRegionCount);

        bitmap.MarkWritten(-4096, 8192); // starts before 0: region 0 only
        AssertDirty(bitmap, 0);
        bitmap.MarkWritten(volume - 512, long.MaxValue); // runs past the end: the last region only
        AssertDirty(bitmap, 0, 10);
        bitmap.MarkWritten(long.MinValue / 2, long.MaxValue); // covers everything
        Assert.Equal(11, bitmap.DirtyRegionCount);
        Assert.Equal(11, System.Numerics.BitOperations.PopCount(bitmap.SnapshotAndClear()[0]));
    }

    [Fact]
    public void QueriesOffTheHotPathRejectBadArguments()
    {
        var bitmap = new DirtyBitmap(4L * K64);
        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.IsDirty(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.IsDirty(4L * K64));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirtyBitmap(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirtyBitmap(K64, 1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirtyBitmap(K64, 256));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DirtyBitmap(long.MaxValue, 512));
        Assert.Throws<ArgumentException>(() => new DirtyBitmap(65L * K64).CopyAndClear(new ulong[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.Resize(-1));
    }

    [Fact]
    public void SnapshotAndClearReturnsTheBitsAndLeavesTheMapClean()
    {
        var bitmap = new DirtyBitmap(130L * K64);
        bitmap.MarkWritten(0, 1);
        bitmap.MarkWritten(64L * K64, 1);
        bitmap.MarkWritten(129L * K64, K64);

        ulong[] snapshot = bitmap.SnapshotAndClear();
        Assert.Equal(3, snapshot.Length);
        Assert.Equal([1UL, 1UL, 2UL], snapshot);
        Assert.True(DirtyBitmap.IsRegionSet(snapshot, 129));
        Assert.False(DirtyBitmap.IsRegionSet(snapshot, 128));
        Assert.False(DirtyBitmap.IsRegionSet(snapshot, 100_000));
        Assert.Equal(0, bitmap.DirtyRegionCount);

        bitmap.MarkWritten(K64, 1);
        Span<ulong> destination = stackalloc ulong[4];
        destination.Fill(ulong.MaxValue);
        Assert.Equal(3, bitmap.CopyAndClear(destination));
        Assert.Equal([2UL, 0UL, 0UL, ulong.MaxValue], destination.ToArray());
        Assert.Equal(0, bitmap.DirtyRegionCount);
    }

    [Fact]
    public void ResizeKeepsKeptRegionsAndDropsRemovedOnes()
    {
        var bitmap = new DirtyBitmap(100L * K64);
        bitmap.MarkWritten(0, 100L * K64);

        bitmap.Resize(200L * K64);
        Assert.Equal(200, bitmap.RegionCount);
        Assert.Equal(4, bitmap.WordCount);
        Assert.Equal(100, bitmap.DirtyRegionCount); // added regions are clean
        Assert.True(bitmap.IsDirty((100L * K64) - 1));
        Assert.False(bitmap.IsDirty(100L * K64));
        bitmap.MarkWritten(199L * K64, K64);
        Assert.True(bitmap.IsDirty(199L * K64));

        bitmap.Resize(70L * K64); // same word count cut: bits 70..127 of the old map must go
        Assert.Equal(70, bitmap.RegionCount);
        Assert.Equal(2, bitmap.WordCount);
        Assert.Equal(70, bitmap.DirtyRegionCount);

        bitmap.Resize(128L * K64); // regrown: 70..127 come back clean, not with stale bits
        Assert.Equal(70, bitmap.DirtyRegionCount);
        Assert.False(bitmap.IsDirty(100L * K64));

        bitmap.Resize(0);
        Assert.Equal(0, bitmap.WordCount);
        bitmap.MarkWritten(0, 4096); // clamped to nothing
        Assert.Equal(0, bitmap.DirtyRegionCount);
    }

    [Fact]
    public void MarkWrittenDoesNotAllocate()
    {
        var bitmap = new DirtyBitmap(1L << 30);
        var scratch = new ulong[bitmap.WordCount];
        Mark(bitmap, scratch, 1000); // JIT and tiering
        long before = GC.GetAllocatedBytesForCurrentThread();
        Mark(bitmap, scratch, 100_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);

        static void Mark(DirtyBitmap bitmap, ulong[] scratch, int count)
        {
            for (int i = 0; i < count; i++)
            {
                long offset = (long)i * 4096 * 37 % (1L << 30);
                bitmap.MarkWritten(offset, (i % 7) * 65536 + 4096);
                if (i % 100 == 0)
                {
                    _ = bitmap.CopyAndClear(scratch);
                }
            }
        }
    }

    [Fact]
    public void ConcurrentMarksAreNeverLostToAConcurrentClear()
    {
        const int Threads = 8;
        const int RegionsPerThread = 1 << 18;
        const long Regions = (long)Threads * RegionsPerThread; // 32768 words, a 128 GiB volume
        var bitmap = new DirtyBitmap(Regions * K64);
        var marked = new bool[Threads][];
        using var start = new Barrier(Threads + 1);
        int running = Threads;

        var writers = new Thread[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int id = t;
            marked[id] = new bool[Regions];
            writers[id] = new Thread(() =>
            {
                bool[] mine = marked[id];
                start.SignalAndWait();
                // Thread t owns regions t, t + 8, t + 16...: all threads hit the same words at the
                // same time, and each region is marked once (a lost mark is never repaired later).
                // Every third owned region is skipped, so a spurious bit shows too.
                for (long k = 0; k < RegionsPerThread; k++)
                {
                    if (k % 3 == 2)
                    {
                        continue;
                    }
                    long region = (k * Threads) + id;
                    bool straddle = k % 5 == 0 && region + 1 < Regions;
                    long offset = (region * K64) + (straddle ? K64 - 512 : (k % 128) * 512);
                    long length = straddle ? 1024 : 512;
                    bitmap.MarkWritten(offset, length);
                    mine[region] = true;
                    if (straddle)
                    {
                        mine[region + 1] = true;
                    }
                }
                Interlocked.Decrement(ref running);
            });
            writers[id].Start();
        }

        var union = new ulong[bitmap.WordCount];
        var scratch = new ulong[bitmap.WordCount];
        int snapshots = 0;
        start.SignalAndWait();
        do
        {
            bitmap.CopyAndClear(scratch);
            for (int i = 0; i < union.Length; i++)
            {
                union[i] |= scratch[i];
            }
            snapshots++;
        }
        while (Volatile.Read(ref running) > 0);
        foreach (Thread writer in writers)
        {
            writer.Join();
        }
        ulong[] final = bitmap.SnapshotAndClear();

        long markedCount = 0;
        for (long r = 0; r < Regions; r++)
        {
            bool expected = false;
            for (int t = 0; t < Threads; t++)
            {
                expected |= marked[t][r];
            }
            bool seen = DirtyBitmap.IsRegionSet(union, r) || DirtyBitmap.IsRegionSet(final, r);
            Assert.True(expected == seen, $"region {r}: marked {expected}, seen {seen} ({snapshots} snapshots)");
            markedCount += expected ? 1 : 0;
        }
        Assert.True(markedCount > Regions / 2, $"{markedCount} regions marked");
    }

    private static void AssertDirty(DirtyBitmap bitmap, params int[] regions)
    {
        for (long r = 0; r < bitmap.RegionCount; r++)
        {
            Assert.True(Array.IndexOf(regions, (int)r) >= 0 == bitmap.IsDirty(r * K64), $"region {r}");
        }
        Assert.Equal(regions.Length, bitmap.DirtyRegionCount);
    }
}
