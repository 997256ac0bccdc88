using NovaStor.BlockEngine.Volumes;

namespace NovaStor.BlockEngine.Tests.Volumes;

public sealed class VolumeCatalogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("novastor-catalog-").FullName;

    private string CatalogPath => Path.Combine(_directory, VolumeCatalog.FileName);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static CatalogDocument Sample() => new(
        CatalogDocument.CurrentVersion,
        [new DriveRecord("d0", "/srv/d0", 100)],
        [new VolumeRecord("db-data", Guid.NewGuid(), 1L << 30, 4096, [new StripeMember("d0", 100)], VolumeRecord.DefaultChunkBytes), new VolumeRecord("logs", Guid.NewGuid(), 4096 * 10, 512, [new StripeMember("d0", 100)], VolumeRecord.DefaultChunkBytes)]);

    [Fact]
    public void A_saved_catalog_loads_back_equal()
    {
        var document = Sample();
        VolumeCatalog.Save(CatalogPath, document);
        var loaded = VolumeCatalog.Load(CatalogPath);

        Assert.Equal(document.Drives, loaded.Drives);
        Assert.Equal(document.Volumes, loaded.Volumes);
        Assert.False(File.Exists(CatalogPath + ".tmp"));
    }

    [Fact]
    public void A_missing_catalog_is_empty()
    {
        var loaded = VolumeCatalog.Load(CatalogPath);
        Assert.Empty(loaded.Volumes);
        Assert.Empty(loaded.Drives);
    }

    [Fact]
    public void A_temporary_file_left_by_a_killed_save_does_not_replace_the_catalog()
    {
        var document = Sample();
        VolumeCatalog.Save(CatalogPath, document);
        File.WriteAllText(CatalogPath + ".tmp", "{ \"version\": 1, \"drives\": [], \"volu");

        Assert.Equal(document.Volumes, VolumeCatalog.Load(CatalogPath).Volumes);
        Assert.False(File.Exists(CatalogPath + ".tmp"));
    }

    [Theory]
    [InlineData("{ \"version\": 1, \"drives\": [], \"volu", "not a valid catalog document")]
    [InlineData("", "not a valid catalog document")]
    [InlineData("null", "empty")]
    [InlineData("{ \"version\": 7, \"drives\": [], \"volumes\": [] }", "version 7")]
    [InlineData("{ \"version\": 1, \"drives\": [{\"id\":\"d0\",\"path\":\"/x\",\"weight\":1}], \"volumes\": [{\"name\":\"a\",\"id\":\"6e6f7661-7374-4f72-a000-000000000001\",\"sizeBytes\":4096,\"blockSize\":512,\"drive\":\"d0\"},{\"name\":\"a\",\"id\":\"6e6f7661-7374-4f72-a000-000000000002\",\"sizeBytes\":4096,\"blockSize\":512,\"drive\":\"d0\"}] }", "listed twice")]
    [InlineData("{ \"version\": 1, \"drives\": [{\"id\":\"d0\",\"path\":\"/x\",\"weight\":1}], \"volumes\": [{\"name\":\"a\",\"id\":\"6e6f7661-7374-4f72-a000-000000000001\",\"sizeBytes\":1000,\"blockSize\":512,\"drive\":\"d0\"}] }", "not a positive multiple")]
    [InlineData("{ \"version\": 1, \"drives\": [{\"id\":\"d0\",\"path\":\"/x\",\"weight\":1}], \"volumes\": [{\"name\":\"../etc\",\"id\":\"6e6f7661-7374-4f72-a000-000000000001\",\"sizeBytes\":4096,\"blockSize\":512,\"drive\":\"d0\"}] }", "not valid")]
    [InlineData("{ \"version\": 1, \"drives\": [], \"volumes\": [{\"name\":\"a\",\"id\":\"6e6f7661-7374-4f72-a000-000000000001\",\"sizeBytes\":4096,\"blockSize\":512,\"drive\":\"d9\"}] }", "does not list")]
    public void A_corrupt_catalog_is_reported_clearly_and_left_untouched(string content, string reason)
    {
        File.WriteAllText(CatalogPath, content);
        byte[] before = File.ReadAllBytes(CatalogPath);

        var error = Assert.Throws<CatalogCorruptException>(() => VolumeCatalog.Load(CatalogPath));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Contains(CatalogPath, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(CatalogPath));
    }
}
