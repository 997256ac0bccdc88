using System.Text.Json.Serialization;

namespace NovaStor.BlockEngine.Volumes;

/// <summary>One volume as the catalog records it (catalog version 2).</summary>
/// <param name="Name">Unique, stable name (also the namespace identity seen by hosts).</param>
/// <param name="Id">Generated at creation; the placement key of the volume and of its chunks.</param>
/// <param name="SizeBytes">Size; a multiple of <paramref name="BlockSize"/>.</param>
/// <param name="BlockSize">LBA size: 512 or 4096.</param>
/// <param name="Stripe">
/// The drives holding the volume, one member file on each; a single member means not striped.
/// Each member carries the weight it had when the volume was created: chunk ownership is computed
/// from these, so a drive reweighted later can never move existing data.
/// </param>
/// <param name="ChunkBytes">Striping unit (a power of two, 4 MiB by default); unused with one member.</param>
public sealed record VolumeRecord(string Name, Guid Id, long SizeBytes, int BlockSize, IReadOnlyList<StripeMember> Stripe, int ChunkBytes)
{
    /// <summary>The striping unit of new volumes.</summary>
    public const int DefaultChunkBytes = 4 << 20;

    /// <summary>The file of the volume (of each member) inside its drive's directory.</summary>
    [JsonIgnore]
    public string FileName => Name + ".img";

    /// <summary>True when the volume spans more than one drive.</summary>
    [JsonIgnore]
    public bool IsStriped => Stripe.Count > 1;

    // The stripe is a list: compare it by content, so a record read back from disk equals the one written.
    public bool Equals(VolumeRecord? other) =>
        other is not null
        && Name == other.Name
        && Id == other.Id
        && SizeBytes == other.SizeBytes
        && BlockSize == other.BlockSize
        && ChunkBytes == other.ChunkBytes
        && (ReferenceEquals(Stripe, other.Stripe) || (Stripe is not null && other.Stripe is not null && Stripe.SequenceEqual(other.Stripe)));

    public override int GetHashCode() => HashCode.Combine(Name, Id, SizeBytes, BlockSize, ChunkBytes, Stripe?.Count ?? -1);
}

/// <summary>One drive of a volume's stripe and the placement weight frozen at creation.</summary>
public sealed record StripeMember(string Drive, double Weight);

/// <summary>A data directory (one per drive) and its placement weight (its capacity).</summary>
/// <param name="Id">Stable identifier, recorded in volume records; never reused for another drive.</param>
public sealed record DriveRecord(string Id, string Path, double Weight);

/// <summary>What the catalog file holds.</summary>
/// <remarks>Version 2 added striping (<see cref="VolumeRecord.Stripe"/>, <see cref="VolumeRecord.ChunkBytes"/>);
/// version 1 files are migrated when loaded (see <see cref="CatalogVersion1"/>).</remarks>
public sealed record CatalogDocument(int Version, IReadOnlyList<DriveRecord> Drives, IReadOnlyList<VolumeRecord> Volumes)
{
    public const int CurrentVersion = 2;
}
