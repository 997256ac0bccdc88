using System.Text.Json;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// The persisted list of drives and volumes. Written atomically (temporary file, fsync, rename,
/// fsync of the directory), so a process killed at any point leaves either the old or the new
/// catalog. A catalog that does not parse or validate is reported, never replaced.
/// </summary>
public static class VolumeCatalog
{
    public const string FileName = "catalog.json";

    /// <summary>Reads the catalog; a missing file is an empty catalog. A version 1 file is migrated in memory.</summary>
    /// <exception cref="CatalogCorruptException">The file exists but cannot be trusted.</exception>
    public static CatalogDocument Load(string path) => Load(path, out _);

    /// <summary>Reads the catalog and tells which version the file holds (the current one when there is no file).</summary>
    /// <exception cref="CatalogCorruptException">The file exists but cannot be trusted.</exception>
    public static CatalogDocument Load(string path, out int storedVersion)
    {
        storedVersion = CatalogDocument.CurrentVersion;
        // A temporary file is what a save killed before its rename leaves: the catalog itself is intact.
        DurableFile.RemoveLeftover(path);
        if (!File.Exists(path))
        {
            return new CatalogDocument(CatalogDocument.CurrentVersion, [], []);
        }

        byte[] bytes = File.ReadAllBytes(path);
        CatalogDocument? document;
        try
        {
            // The version decides the shape of the rest, so it is read on its own first.
            var header = JsonSerializer.Deserialize(bytes, CatalogJsonContext.Default.CatalogHeader);
            if (header is null)
            {
                throw new CatalogCorruptException(path, "it is empty (null)");
            }

            storedVersion = header.Version;
            document = header.Version switch
            {
                CatalogDocument.CurrentVersion => JsonSerializer.Deserialize(bytes, CatalogJsonContext.Default.CatalogDocument),
                CatalogVersion1.Version => JsonSerializer.Deserialize(bytes, CatalogJsonContext.Default.Document) is { } old ? CatalogVersion1.Migrate(old) : null,
                _ => throw new CatalogCorruptException(path,
                    $"version {header.Version} is not a supported version ({CatalogVersion1.Version} or {CatalogDocument.CurrentVersion})"),
            };
        }
        catch (JsonException ex)
        {
            throw new CatalogCorruptException(path, $"it is not a valid catalog document ({ex.Message})", ex);
        }

        if (document is null)
        {
            throw new CatalogCorruptException(path, "it is empty (null)");
        }

        Validate(path, document);
        return document;
    }

    /// <summary>Replaces the catalog with <paramref name="document"/>, durably and atomically.</summary>
    public static void Save(string path, CatalogDocument document)
    {
        Validate(path, document);
        DurableFile.Replace(path, JsonSerializer.SerializeToUtf8Bytes(document, CatalogJsonContext.Default.CatalogDocument));
    }

    /// <summary>fsync of a directory: makes a rename, create or unlink in it durable.</summary>
    public static void SyncDirectory(string directory)
    {
        int fd = Libc.Open(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0, out int errno);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory {directory} to sync it: {Libc.Describe(errno)}");
        }

        try
        {
            int error = Libc.Fsync(fd);
            if (error != 0)
            {
                throw new IOException($"fsync of directory {directory} failed: {Libc.Describe(error)}");
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Volume names become file names: letters, digits, '.', '_' and '-', at most 128 characters.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 128
        && char.IsAsciiLetterOrDigit(name[0])
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static void Validate(string path, CatalogDocument document)
    {
        if (document.Version != CatalogDocument.CurrentVersion)
        {
            throw new CatalogCorruptException(path, $"version {document.Version} is not the supported version {CatalogDocument.CurrentVersion}");
        }

        var drives = new HashSet<string>(StringComparer.Ordinal);
        foreach (var drive in document.Drives ?? [])
        {
            if (drive is null || string.IsNullOrEmpty(drive.Id) || string.IsNullOrEmpty(drive.Path) || !(drive.Weight > 0) || !drives.Add(drive.Id))
            {
                throw new CatalogCorruptException(path, $"drive entry '{drive?.Id}' is incomplete, has no positive weight, or is listed twice");
            }
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var volume in document.Volumes ?? [])
        {
            string problem = volume switch
            {
                null => "a volume entry is empty",
                _ when !IsValidName(volume.Name) => $"volume name '{volume.Name}' is not valid",
                _ when !names.Add(volume.Name) => $"volume '{volume.Name}' is listed twice",
                _ when volume.BlockSize is not (512 or 4096) => $"volume '{volume.Name}' has block size {volume.BlockSize}",
                _ when volume.SizeBytes <= 0 || volume.SizeBytes % volume.BlockSize != 0 => $"volume '{volume.Name}' has size {volume.SizeBytes}, not a positive multiple of {volume.BlockSize}",
                _ => StripeProblem(volume, drives),
            };
            if (problem.Length > 0)
            {
                throw new CatalogCorruptException(path, problem);
            }
        }
    }

    private static string StripeProblem(VolumeRecord volume, HashSet<string> drives)
    {
        if (volume.Stripe is null || volume.Stripe.Count == 0)
        {
            return $"volume '{volume.Name}' lists no drive";
        }

        if (!StripedVolume.IsValidChunkSize(volume.ChunkBytes))
        {
            return $"volume '{volume.Name}' has chunk size {volume.ChunkBytes}, not a power of two from {StripedVolume.MinChunkBytes} to {StripedVolume.MaxChunkBytes}";
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in volume.Stripe)
        {
            if (member is null || string.IsNullOrEmpty(member.Drive) || !(member.Weight > 0) || !double.IsFinite(member.Weight))
            {
                return $"volume '{volume.Name}' has a stripe member without a drive or a positive weight";
            }

            if (!drives.Contains(member.Drive))
            {
                return $"volume '{volume.Name}' is on drive '{member.Drive}', which the catalog does not list";
            }

            if (!seen.Add(member.Drive))
            {
                return $"volume '{volume.Name}' lists drive '{member.Drive}' twice in its stripe";
            }
        }

        return "";
    }
}
