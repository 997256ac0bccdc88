using NovaStor.BlockEngine.Volumes;

namespace NovaStor.BlockEngine.Tests.Volumes;

/// <summary>Catalog version 2 (placement in every record) and the migration of version 1 files.</summary>
public sealed class CatalogVersionTests : IDisposable
{
    // Exactly what version 1 wrote (it also serialized the derived fileName).
    private const string Version1 = """
        {
          "version": 1,
          "drives": [ { "id": "d0", "path": "/srv/d0", "weight": 100 }, { "id": "d1", "path": "/srv/d1", "weight": 300 } ],
          "volumes": [
            { "name": "db", "id": "6e6f7661-7374-4f72-a000-000000000001", "sizeBytes": 1073741824, "blockSize": 4096, "drive": "d1", "fileName": "db.img" },
            { "name": "logs", "id": "6e6f7661-7374-4f72-a000-000000000002", "sizeBytes": 40960, "blockSize": 512, "drive": "d0", "fileName": "logs.img" }
          ]
        }
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("novastor-catalog-version-").FullName;

    private string CatalogPath => Path.Combine(_directory, VolumeCatalog.FileName);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_striped_placement_round_trips()
    {
        var document = new CatalogDocument(
            CatalogDocument.CurrentVersion,
            [new DriveRecord("d0", "/srv/d0", 100), new DriveRecord("d1", "/srv/d1", 200), new DriveRecord("d2", "/srv/d2", 300)],
            [new VolumeRecord("wide", Guid.NewGuid(), 10L << 30, 4096, [new("d2", 300), new("d0", 100), new("d1", 200)], VolumeRecord.DefaultChunkBytes),
             new VolumeRecord("narrow", Guid.NewGuid(), 1 << 20, 512, [new("d1", 200)], VolumeRecord.DefaultChunkBytes)]);

        VolumeCatalog.Save(CatalogPath, document);
        var loaded = VolumeCatalog.Load(CatalogPath, out int storedVersion);

        Assert.Equal(2, storedVersion);
        Assert.Equal(document.Volumes, loaded.Volumes);
        Assert.Equal(["d2", "d0", "d1"], loaded.Volumes[0].Stripe.Select(m => m.Drive)); // stripe order is kept
        string json = File.ReadAllText(CatalogPath);
        Assert.Contains("\"stripe\"", json, StringComparison.Ordinal);
        Assert.Contains("\"chunkBytes\": 4194304", json, StringComparison.Ordinal);
        Assert.DoesNotContain("fileName", json, StringComparison.Ordinal);
    }

    [Fact]
    public void A_version_1_catalog_reads_as_unstriped_volumes_on_their_drive()
    {
        File.WriteAllText(CatalogPath, Version1);

        var loaded = VolumeCatalog.Load(CatalogPath, out int storedVersion);

        Assert.Equal(1, storedVersion);
        Assert.Equal(CatalogDocument.CurrentVersion, loaded.Version);
        Assert.Equal(
            [new VolumeRecord("db", new Guid("6e6f7661-7374-4f72-a000-000000000001"), 1L << 30, 4096, [new StripeMember("d1", 300)], 4 << 20),
             new VolumeRecord("logs", new Guid("6e6f7661-7374-4f72-a000-000000000002"), 40960, 512, [new StripeMember("d0", 100)], 4 << 20)],
            loaded.Volumes);
        Assert.Equal(Version1, File.ReadAllText(CatalogPath)); // loading alone never rewrites
    }

    [Fact]
    public async Task Opening_a_version_1_catalog_keeps_the_files_in_place_and_writes_version_2()
    {
        string drive0 = Path.Combine(_directory, "d0");
        string drive1 = Path.Combine(_directory, "d1");
        Directory.CreateDirectory(drive0);
        Directory.CreateDirectory(drive1);
        byte[] data = new byte[4096];
        new Random(1).NextBytes(data);
        using (var file = new FileStream(Path.Combine(drive1, "old.img"), FileMode.CreateNew))
        {
            file.SetLength(1 << 20);
            file.Write(data);
        }

        File.WriteAllText(Path.Combine(drive0, VolumeCatalog.FileName), $$"""
            { "version": 1,
              "drives": [ { "id": "d0", "path": "{{drive0}}", "weight": 5 }, { "id": "d1", "path": "{{drive1}}", "weight": 7 } ],
              "volumes": [ { "name": "old", "id": "6e6f7661-7374-4f72-a000-000000000003", "sizeBytes": 1048576, "blockSize": 512, "drive": "d1", "fileName": "old.img" } ] }
            """);

        var manager = VolumeManager.Open(drive0, [("d0", drive0), ("d1", drive1)]);

        var record = Assert.Single(manager.List());
        Assert.Equal([new StripeMember("d1", 7)], record.Stripe);
        Assert.Equal(Path.Combine(drive1, "old.img"), Assert.Single(manager.FilePaths(record)));
        VolumeCatalog.Load(Path.Combine(drive0, VolumeCatalog.FileName), out int storedVersion);
        Assert.Equal(CatalogDocument.CurrentVersion, storedVersion);
        using var volume = manager.OpenVolume("old");
        Assert.Equal(data, await volume.ReadBytesAsync(0, 4096));
    }

    [Theory]
    [InlineData("\"stripe\":[],\"chunkBytes\":4194304", "lists no drive")]
    [InlineData("\"stripe\":[{\"drive\":\"d0\",\"weight\":1}],\"chunkBytes\":1000", "chunk size 1000")]
    [InlineData("\"stripe\":[{\"drive\":\"d0\",\"weight\":1},{\"drive\":\"d0\",\"weight\":1}],\"chunkBytes\":4194304", "twice in its stripe")]
    [InlineData("\"stripe\":[{\"drive\":\"d0\",\"weight\":1},{\"drive\":\"d9\",\"weight\":1}],\"chunkBytes\":4194304", "does not list")]
    [InlineData("\"stripe\":[{\"drive\":\"d0\",\"weight\":0}],\"chunkBytes\":4194304", "positive weight")]
    [InlineData("\"chunkBytes\":4194304", "not a valid catalog document")]
    [InlineData("\"drive\":\"d0\"", "not a valid catalog document")] // a version 1 record under version 2
    public void A_corrupt_placement_is_reported_clearly_and_left_untouched(string placement, string reason)
    {
        string content = "{ \"version\": 2, \"drives\": [{\"id\":\"d0\",\"path\":\"/x\",\"weight\":1}], \"volumes\": [{\"name\":\"a\",\"id\":\"6e6f7661-7374-4f72-a000-000000000001\",\"sizeBytes\":4096,\"blockSize\":512,"
            + placement + "}] }";
        File.WriteAllText(CatalogPath, content);

        var error = Assert.Throws<CatalogCorruptException>(() => VolumeCatalog.Load(CatalogPath));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Equal(content, File.ReadAllText(CatalogPath));
    }
}
