namespace NovaStor.BlockEngine.Volumes;

/// <summary>One volume as the catalog records it.</summary>
/// <param name="Name">Unique, stable name (also the namespace identity seen by hosts).</param>
/// <param name="Id">Generated at creation; the placement key.</param>
/// <param name="SizeBytes">Size; a multiple of <paramref name="BlockSize"/>.</param>
/// <param name="BlockSize">LBA size: 512 or 4096.</param>
/// <param name="Drive">The data directory (drive) holding the volume's file, by drive id.</param>
public sealed record VolumeRecord(string Name, Guid Id, long SizeBytes, int BlockSize, string Drive)
{
    /// <summary>The file of the volume inside its drive's directory.</summary>
    public string FileName => Name + ".img";
}

/// <summary>A data directory (one per drive) and its placement weight (its capacity).</summary>
/// <param name="Id">Stable identifier, recorded in volume records; never reused for another drive.</param>
public sealed record DriveRecord(string Id, string Path, double Weight);

/// <summary>What the catalog file holds.</summary>
public sealed record CatalogDocument(int Version, IReadOnlyList<DriveRecord> Drives, IReadOnlyList<VolumeRecord> Volumes)
{
    public const int CurrentVersion = 1;
}
