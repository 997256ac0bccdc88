using System.Diagnostics;
using NovaStor.BlockEngine.Allocation;
using NovaStor.BlockEngine.Volumes;
using Xunit.Abstractions;

namespace NovaStor.BlockEngine.Tests.Volumes;

/// <summary>Volumes striped over three data directories: thin, placed by straw2, every member file handled by every change.</summary>
public sealed class StripedVolumeManagerTests(ITestOutputHelper output) : IDisposable
{
    private const long Chunk = VolumeRecord.DefaultChunkBytes;
    private readonly string _root = Directory.CreateTempSubdirectory("novastor-striped-").FullName;

    private string[] Drives => [Path.Combine(_root, "d0"), Path.Combine(_root, "d1"), Path.Combine(_root, "d2")];

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private VolumeManager Open() => VolumeManager.Open(Drives[0], Drives.Select((path, i) => ($"d{i}", path)));

    [Fact]
    public void A_10_GiB_volume_striped_over_three_drives_takes_milliseconds_and_allocates_nothing()
    {
        var manager = Open();
        var clock = Stopwatch.StartNew();
        var record = manager.Create("big", 10L << 30, 4096, stripeWidth: 3);
        clock.Stop();

        var paths = manager.FilePaths(record);
        Assert.Equal(3, paths.Count);
        Assert.Equal(3, paths.Select(Path.GetDirectoryName).Distinct().Count());
        foreach (string path in paths)
        {
            long allocated = AllocationMap.AllocatedBytes(path);
            output.WriteLine($"{path}: length {new FileInfo(path).Length}, allocated {allocated} bytes");
            Assert.Equal(10L << 30, new FileInfo(path).Length);
            Assert.True(allocated < 1 << 20, $"{path} has {allocated} bytes allocated");
        }

        output.WriteLine($"created in {clock.Elapsed.TotalMilliseconds:F1} ms");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"creating took {clock.Elapsed}");
        Assert.Equal(record, Assert.Single(Open().List()));
    }

    [Fact]
    public void The_stripe_width_is_between_one_and_the_number_of_drives()
    {
        var manager = Open();
        Assert.Throws<ArgumentOutOfRangeException>(() => manager.Create("v", 1 << 20, 512, stripeWidth: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => manager.Create("v", 1 << 20, 512, stripeWidth: 4));
        Assert.Empty(manager.List());
        Assert.Empty(Drives.SelectMany(d => Directory.EnumerateFiles(d, "*.img")));

        var all = manager.Create("all", 1 << 20, 512, stripeWidth: 3);
        Assert.Equal(["d0", "d1", "d2"], all.Stripe.Select(m => m.Drive).Order(StringComparer.Ordinal));
        Assert.Equal(VolumeRecord.DefaultChunkBytes, all.ChunkBytes);
        var two = manager.Create("two", 1 << 20, 512, stripeWidth: 2);
        Assert.Equal(2, two.Stripe.Select(m => m.Drive).Distinct().Count());
    }

    [Fact]
    public void The_first_drive_of_a_stripe_is_where_an_unstriped_volume_would_go()
    {
        var drives = Drives.Select((path, i) => new DriveRecord($"d{i}", path, 1 + i)).ToArray();
        for (int i = 0; i < 200; i++)
        {
            var id = Guid.NewGuid();
            var one = Assert.Single(StripePlacement.Choose(id, drives, 1));
            var three = StripePlacement.Choose(id, drives, 3);
            Assert.Equal(one, three[0]);
            Assert.Equal(three, StripePlacement.Choose(id, drives, 3));
            Assert.Equal(drives[int.Parse(one.Drive[1..], System.Globalization.CultureInfo.InvariantCulture)].Weight, one.Weight);
        }
    }

    [Fact]
    public async Task Striped_data_lands_on_the_owning_drive_and_survives_reopening()
    {
        var manager = Open();
        var record = manager.Create("data", 64 * Chunk, 4096, stripeWidth: 3);
        var paths = manager.FilePaths(record);
        var written = new Dictionary<long, byte[]>();
        using (var volume = Assert.IsType<StripedVolume>(manager.OpenVolume("data")))
        {
            Assert.Equal(64 * Chunk, volume.SizeBytes);
            for (long chunk = 0; chunk < 64; chunk += 4)
            {
                byte[] data = new byte[8192];
                new Random((int)chunk).NextBytes(data);
                // Straddles the chunk boundary: its halves go to two owners (or one, when they agree).
                await volume.WriteBytesAsync(((chunk + 1) * Chunk) - 4096, data);
                written[chunk] = data;
            }

            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
            for (long chunk = 0; chunk < 64; chunk++)
            {
                var extents = paths.Select(p => AllocationMap.DataExtents(p, chunk * Chunk, (chunk + 1) * Chunk).Count).ToArray();
                bool touched = written.ContainsKey(chunk) || written.ContainsKey(chunk - 1);
                for (int member = 0; member < paths.Count; member++)
                {
                    Assert.Equal(touched && member == volume.OwnerOf(chunk), extents[member] > 0);
                }
            }
        }

        using var again = Open().OpenVolume("data");
        foreach (var (chunk, data) in written)
        {
            Assert.Equal(data, await again.ReadBytesAsync(((chunk + 1) * Chunk) - 4096, data.Length));
        }
    }

    [Fact]
    public void OpenVolume_opens_every_member_with_the_given_opener_and_an_unstriped_volume_is_its_file()
    {
        var manager = Open();
        var striped = manager.Create("striped", 8 * Chunk, 512, stripeWidth: 2);
        var plain = manager.Create("plain", 1 << 20, 512);
        var opened = new List<(string Path, long Size, int Block)>();
        IBlockVolume Opener(string path, long size, int block)
        {
            opened.Add((path, size, block));
            return FileVolume.OpenOrCreate(path, size, block);
        }

        using (var volume = manager.OpenVolume("striped", Opener))
        {
            Assert.IsType<StripedVolume>(volume);
            Assert.Equal(manager.FilePaths(striped), opened.Select(o => o.Path));
            Assert.All(opened, o => Assert.Equal((8 * Chunk, 512), (o.Size, o.Block)));
        }

        using var single = manager.OpenVolume("plain");
        Assert.Equal(Assert.Single(manager.FilePaths(plain)), Assert.IsType<FileVolume>(single).FilePath);
    }

    [Fact]
    public void A_missing_member_file_is_reported_and_never_recreated()
    {
        var manager = Open();
        var record = manager.Create("v", 8 * Chunk, 512, stripeWidth: 3);
        string lost = manager.FilePaths(record)[1];
        File.Delete(lost);

        var reopened = Open();
        var error = Assert.Throws<FileNotFoundException>(() => reopened.OpenVolume("v"));
        Assert.Contains(lost, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(lost));
    }

    [Fact]
    public void Resize_and_delete_change_every_member_file()
    {
        var manager = Open();
        var record = manager.Create("v", 8 * Chunk, 512, stripeWidth: 3);
        var paths = manager.FilePaths(record);

        manager.Resize("v", 16 * Chunk);
        Assert.All(paths, p => Assert.Equal(16 * Chunk, new FileInfo(p).Length));
        manager.Resize("v", 2 * Chunk);
        Assert.All(paths, p => Assert.Equal(2 * Chunk, new FileInfo(p).Length));
        Assert.Equal(2 * Chunk, Open().Find("v")!.SizeBytes);

        manager.Delete("v");
        Assert.All(paths, p => Assert.False(File.Exists(p)));
        Assert.Empty(Open().List());
    }

    [Fact]
    public void An_interrupted_striped_create_is_removed_from_every_drive()
    {
        Open();
        // What a kill between two member files leaves: empty files, no catalog entry.
        foreach (string drive in Drives[..2])
        {
            using var file = File.Create(Path.Combine(drive, "half.img"));
            file.SetLength(8 * Chunk);
        }

        Open();
        Assert.Empty(Drives.SelectMany(d => Directory.EnumerateFiles(d, "*.img")));
    }

    [Fact]
    public void An_interrupted_striped_delete_is_undone_on_every_member()
    {
        var manager = Open();
        var record = manager.Create("v", 8 * Chunk, 512, stripeWidth: 3);
        var paths = manager.FilePaths(record);
        // Killed after renaming the first member aside, before the catalog commit.
        File.Move(paths[0], Path.ChangeExtension(paths[0], null) + ".img.deleting");

        var reopened = Open();
        Assert.Equal(record, Assert.Single(reopened.List()));
        Assert.All(paths, p => Assert.True(File.Exists(p)));
        Assert.Empty(Drives.SelectMany(d => Directory.EnumerateFiles(d, "*.deleting")));
    }

    [Fact]
    public void An_interrupted_striped_resize_is_cut_back_on_every_member()
    {
        var manager = Open();
        var record = manager.Create("v", 8 * Chunk, 512, stripeWidth: 3);
        var paths = manager.FilePaths(record);
        // Killed while growing: one member already longer than the catalog says.
        using (var file = new FileStream(paths[2], FileMode.Open))
        {
            file.SetLength(32 * Chunk);
        }

        Open();
        Assert.All(paths, p => Assert.Equal(8 * Chunk, new FileInfo(p).Length));
    }

    [Fact]
    public void An_empty_file_on_a_drive_outside_the_volumes_stripe_is_removed()
    {
        var manager = Open();
        var record = manager.Create("v", 8 * Chunk, 512, stripeWidth: 2);
        string outside = Drives.Select((d, i) => (d, Id: $"d{i}")).First(d => record.Stripe.All(m => m.Drive != d.Id)).d;
        string stray = Path.Combine(outside, "v.img");
        using (var file = File.Create(stray))
        {
            file.SetLength(8 * Chunk);
        }

        Open();
        Assert.False(File.Exists(stray));
        Assert.All(manager.FilePaths(record), p => Assert.True(File.Exists(p)));
    }
}
