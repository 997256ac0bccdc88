namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// The catalog as version 1 wrote it (every volume on one drive, named by <c>drive</c>), and its
/// migration to the current version: each volume becomes a one-member stripe on that drive, so its
/// file, its path and its data stay exactly where they are.
/// </summary>
internal static class CatalogVersion1
{
    public const int Version = 1;

    public static CatalogDocument Migrate(Document old)
    {
        var drives = old.Drives ?? [];
        var volumes = new List<VolumeRecord>((old.Volumes ?? []).Count);
        foreach (var volume in old.Volumes ?? [])
        {
            if (volume is null)
            {
                volumes.Add(null!); // validation reports it, with the same words as for version 2
                continue;
            }

            // An unknown drive keeps its id with a placeholder weight: validation then names the drive.
            double weight = drives.FirstOrDefault(d => d?.Id == volume.Drive)?.Weight ?? 1;
            volumes.Add(new VolumeRecord(volume.Name, volume.Id, volume.SizeBytes, volume.BlockSize,
                [new StripeMember(volume.Drive, weight)], VolumeRecord.DefaultChunkBytes));
        }

        return new CatalogDocument(CatalogDocument.CurrentVersion, drives, volumes);
    }

    /// <summary>A version 1 catalog file.</summary>
    public sealed record Document(int Version, IReadOnlyList<DriveRecord> Drives, IReadOnlyList<Volume> Volumes);

    /// <summary>A version 1 volume: one file on one drive.</summary>
    public sealed record Volume(string Name, Guid Id, long SizeBytes, int BlockSize, string Drive);
}

/// <summary>Only the version of a catalog file, read first to choose how to read the rest.</summary>
internal sealed record CatalogHeader(int Version);
