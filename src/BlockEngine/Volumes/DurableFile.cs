namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// Replaces a small metadata file atomically and durably: a temporary file written and fsynced,
/// renamed over the old one, then the directory fsynced. A process killed at any point leaves
/// either the old content or the new one (and perhaps a stale temporary file, which
/// <see cref="RemoveLeftover"/> clears before the next read).
/// </summary>
public static class DurableFile
{
    public const string TemporarySuffix = ".tmp";

    public static void Replace(string path, ReadOnlySpan<byte> bytes)
    {
        string temporary = path + TemporarySuffix;
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Metadata names volumes, hosts and keys: the owner's only.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        VolumeCatalog.SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Deletes a file durably (nothing when it does not exist).</summary>
    public static void Delete(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        File.Delete(path);
        VolumeCatalog.SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Removes what a replace killed before its rename left behind: the file itself is intact.</summary>
    public static void RemoveLeftover(string path) => File.Delete(path + TemporarySuffix);
}
