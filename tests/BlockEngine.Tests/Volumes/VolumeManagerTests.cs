using NovaStor.BlockEngine.Native;
using NovaStor.BlockEngine.Volumes;

namespace NovaStor.BlockEngine.Tests.Volumes;

/// <summary>
/// Volumes across data directories with a catalog that survives interruption: each interrupted
/// change is staged as the files a killed process would leave, then Open must repair it.
/// </summary>
public sealed class VolumeManagerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("novastor-volumes-").FullName;

    private string Drive0 => Path.Combine(_root, "d0");
    private string Drive1 => Path.Combine(_root, "d1");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private VolumeManager Open(bool twoDrives = false) => VolumeManager.Open(
        Drive0,
        twoDrives ? [("d0", Drive0), ("d1", Drive1)] : [("d0", Drive0)]);

    [Fact]
    public void A_10_GiB_volume_is_thin_and_survives_reopening()
    {
        var manager = Open();
        var record = manager.Create("big", 10L << 30, 4096);
        string path = Assert.Single(manager.FilePaths(record));

        Assert.Equal(10L << 30, new FileInfo(path).Length);
        Assert.True(Libc.GetAllocatedBytes(path) < 1 << 20, "a new volume allocates (almost) nothing");

        var reopened = Open();
        Assert.Equal(record, Assert.Single(reopened.List()));
    }

    [Fact]
    public async Task Data_written_through_an_opened_volume_is_read_back_after_reopening()
    {
        var manager = Open();
        manager.Create("data", 1 << 20, 512);
        var written = new byte[4096];
        Random.Shared.NextBytes(written);
        using (var volume = manager.OpenVolume("data"))
        {
            await volume.WriteBytesAsync(8192, written);
            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        }

        using var again = Open().OpenVolume("data");
        Assert.Equal(written, await again.ReadBytesAsync(8192, 4096));
    }

    [Fact]
    public void Resize_grows_and_shrinks_the_file_and_the_catalog()
    {
        var manager = Open();
        var record = manager.Create("v", 1 << 20, 512);
        manager.Resize("v", 4 << 20);
        Assert.Equal(4 << 20, new FileInfo(Assert.Single(manager.FilePaths(record))).Length);
        Assert.Equal(4 << 20, Open().Find("v")!.SizeBytes);

        manager.Resize("v", 512 * 100);
        Assert.Equal(512 * 100, new FileInfo(Assert.Single(manager.FilePaths(record))).Length);
        Assert.Equal(512 * 100, Open().Find("v")!.SizeBytes);
        Assert.Throws<ArgumentException>(() => manager.Resize("v", 1000));
    }

    [Fact]
    public void Delete_removes_the_file_and_the_entry()
    {
        var manager = Open();
        var record = manager.Create("gone", 1 << 20, 512);
        manager.Delete("gone");

        Assert.False(File.Exists(Assert.Single(manager.FilePaths(record))));
        Assert.Empty(Open().List());
        Assert.Throws<InvalidOperationException>(() => manager.Delete("gone"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("../escape")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    public void Bad_names_sizes_and_duplicates_are_refused(string name)
    {
        var manager = Open();
        Assert.Throws<ArgumentException>(() => manager.Create(name, 1 << 20, 512));
        Assert.Throws<ArgumentException>(() => manager.Create("ok", 1000, 512));
        Assert.Throws<ArgumentException>(() => manager.Create("ok", 1 << 20, 1024));
        manager.Create("ok", 1 << 20, 512);
        Assert.Throws<InvalidOperationException>(() => manager.Create("ok", 1 << 20, 512));
    }

    [Fact]
    public void Volumes_spread_over_drives_and_stay_where_they_were_placed()
    {
        var manager = Open(twoDrives: true);
        for (int i = 0; i < 40; i++)
        {
            manager.Create($"v{i}", 1 << 20, 512);
        }

        var byDrive = manager.List().GroupBy(v => Assert.Single(v.Stripe).Drive).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(2, byDrive.Count);
        Assert.All(manager.List(), v => Assert.True(File.Exists(Assert.Single(manager.FilePaths(v)))));
        Assert.Equal(manager.List(), Open(twoDrives: true).List());
    }

    [Fact]
    public void An_interrupted_create_leaves_an_empty_file_that_open_removes()
    {
        Open().Create("kept", 1 << 20, 512);
        string orphan = Path.Combine(Drive0, "half-made.img");
        using (var file = File.Create(orphan))
        {
            file.SetLength(1 << 20);
        }

        var manager = Open();
        Assert.False(File.Exists(orphan));
        Assert.Equal("kept", Assert.Single(manager.List()).Name);
    }

    [Fact]
    public void A_file_with_data_that_the_catalog_does_not_know_is_kept()
    {
        string stranger = Path.Combine(Drive0, "stranger.img");
        Directory.CreateDirectory(Drive0);
        File.WriteAllBytes(stranger, new byte[8192]);

        Open();
        Assert.True(File.Exists(stranger));
    }

    [Fact]
    public void An_interrupted_delete_is_finished_or_undone_by_what_the_catalog_says()
    {
        var manager = Open();
        var committed = manager.Create("committed-delete", 1 << 20, 512);
        var uncommitted = manager.Create("uncommitted-delete", 1 << 20, 512);
        string committedPath = Assert.Single(manager.FilePaths(committed));
        string uncommittedPath = Assert.Single(manager.FilePaths(uncommitted));
        manager.Delete("committed-delete");

        // What a kill leaves: the file renamed aside, before (uncommitted) or after (committed) the catalog write.
        File.WriteAllBytes(Path.ChangeExtension(committedPath, null) + ".img.deleting", new byte[4096]);
        File.Move(uncommittedPath, Path.ChangeExtension(uncommittedPath, null) + ".img.deleting");

        var reopened = Open();
        Assert.Equal("uncommitted-delete", Assert.Single(reopened.List()).Name);
        Assert.True(File.Exists(uncommittedPath));
        Assert.Empty(Directory.EnumerateFiles(Drive0, "*.deleting"));
    }

    [Fact]
    public void An_interrupted_resize_is_cut_back_to_the_catalog_size()
    {
        var manager = Open();
        var record = manager.Create("v", 1 << 20, 512);
        using (var file = new FileStream(Assert.Single(manager.FilePaths(record)), FileMode.Open))
        {
            file.SetLength(8 << 20);
        }

        Open();
        Assert.Equal(1 << 20, new FileInfo(Assert.Single(manager.FilePaths(record))).Length);
    }

    [Fact]
    public void A_corrupt_catalog_stops_open_and_is_not_replaced()
    {
        Open().Create("v", 1 << 20, 512);
        string catalog = Path.Combine(Drive0, VolumeCatalog.FileName);
        File.WriteAllText(catalog, "{ broken");

        Assert.Throws<CatalogCorruptException>(() => Open());
        Assert.Equal("{ broken", File.ReadAllText(catalog));
    }
}
