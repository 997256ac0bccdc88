using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// Creates, deletes, resizes and lists thin volumes across one or more data directories (one per
/// drive), keeping the catalog the single truth. Every change orders its file work and its
/// catalog write so that a process killed between them leaves something <see cref="Open"/> repairs:
/// <list type="bullet">
/// <item>create and grow touch the file first, then commit the catalog (an uncommitted file is empty and removed);</item>
/// <item>delete renames the file aside, commits the catalog, then unlinks (a renamed file is restored or removed by what the catalog says);</item>
/// <item>shrink commits the catalog first, then truncates (the file is cut to the catalog's size).</item>
/// </list>
/// Placement: a new volume goes to the drive straw2 picks for its id, weighted by capacity.
/// Admin path only: one lock, never on the I/O path.
/// </summary>
public sealed class VolumeManager
{
    private const string VolumeSuffix = ".img";
    private const string DeletingSuffix = ".img.deleting";

    private readonly string _catalogPath;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private CatalogDocument _catalog;

    private VolumeManager(string catalogPath, CatalogDocument catalog, ILogger logger)
    {
        _catalogPath = catalogPath;
        _catalog = catalog;
        _logger = logger;
    }

    /// <summary>
    /// Opens the catalog in <paramref name="catalogDirectory"/> (the first drive's directory when
    /// not given), adds drives not yet listed, and repairs what an interrupted change left behind.
    /// </summary>
    /// <param name="drives">Data directories by stable id; weights default to the filesystem's capacity.</param>
    /// <exception cref="CatalogCorruptException">The catalog exists but cannot be trusted.</exception>
    public static VolumeManager Open(string catalogDirectory, IEnumerable<(string Id, string Path)> drives, ILogger? logger = null)
    {
        Directory.CreateDirectory(catalogDirectory);
        string catalogPath = Path.Combine(Path.GetFullPath(catalogDirectory), VolumeCatalog.FileName);
        var catalog = VolumeCatalog.Load(catalogPath);
        var known = catalog.Drives.ToList();
        bool changed = false;
        foreach (var (id, path) in drives)
        {
            string full = Path.GetFullPath(path);
            var existing = known.Find(d => d.Id == id);
            if (existing is null)
            {
                Directory.CreateDirectory(full);
                known.Add(new DriveRecord(id, full, Math.Max(1, new DriveInfo(full).TotalSize)));
                changed = true;
            }
            else if (existing.Path != full)
            {
                throw new InvalidOperationException($"Drive '{id}' is {existing.Path} in the catalog but configured as {full}; moving a drive is not supported.");
            }
        }

        if (changed)
        {
            catalog = catalog with { Drives = known };
            VolumeCatalog.Save(catalogPath, catalog);
        }

        var manager = new VolumeManager(catalogPath, catalog, logger ?? NullLogger.Instance);
        manager.Repair();
        return manager;
    }

    public IReadOnlyList<VolumeRecord> List()
    {
        lock (_lock)
        {
            return _catalog.Volumes;
        }
    }

    public VolumeRecord? Find(string name)
    {
        lock (_lock)
        {
            return _catalog.Volumes.FirstOrDefault(v => v.Name == name);
        }
    }

    /// <summary>Creates a thin volume: a sparse file, nothing allocated, then the catalog entry.</summary>
    public VolumeRecord Create(string name, long sizeBytes, int blockSize)
    {
        if (!VolumeCatalog.IsValidName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid volume name (letters, digits, '.', '_', '-'; at most 128).", nameof(name));
        }

        if (blockSize is not (512 or 4096) || sizeBytes <= 0 || sizeBytes % blockSize != 0)
        {
            throw new ArgumentException($"Size {sizeBytes} with block size {blockSize}: the block size must be 512 or 4096 and the size a positive multiple of it.", nameof(sizeBytes));
        }

        lock (_lock)
        {
            if (_catalog.Volumes.Any(v => v.Name == name))
            {
                throw new InvalidOperationException($"Volume '{name}' already exists.");
            }

            var id = Guid.NewGuid();
            var drive = PlaceNew(id);
            var record = new VolumeRecord(name, id, sizeBytes, blockSize, drive.Id);
            string path = FilePath(record);
            using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                file.SetLength(sizeBytes);
                file.Flush(flushToDisk: true);
            }

            VolumeCatalog.SyncDirectory(drive.Path);
            Commit(_catalog with { Volumes = [.. _catalog.Volumes, record] });
            return record;
        }
    }

    /// <summary>Deletes a volume: its data is gone once this returns.</summary>
    public void Delete(string name)
    {
        lock (_lock)
        {
            var record = Require(name);
            string path = FilePath(record);
            string aside = Path.ChangeExtension(path, null) + DeletingSuffix;
            if (File.Exists(path))
            {
                File.Move(path, aside, overwrite: true);
                VolumeCatalog.SyncDirectory(DriveOf(record).Path);
            }

            Commit(_catalog with { Volumes = [.. _catalog.Volumes.Where(v => v.Name != name)] });
            File.Delete(aside);
            VolumeCatalog.SyncDirectory(DriveOf(record).Path);
        }
    }

    /// <summary>Grows or shrinks a volume. Shrinking discards the data past the new end.</summary>
    public VolumeRecord Resize(string name, long sizeBytes)
    {
        lock (_lock)
        {
            var record = Require(name);
            if (sizeBytes <= 0 || sizeBytes % record.BlockSize != 0)
            {
                throw new ArgumentException($"Size {sizeBytes} is not a positive multiple of the block size {record.BlockSize}.", nameof(sizeBytes));
            }

            var resized = record with { SizeBytes = sizeBytes };
            var catalog = _catalog with { Volumes = [.. _catalog.Volumes.Select(v => v.Name == name ? resized : v)] };
            if (sizeBytes >= record.SizeBytes)
            {
                SetFileLength(FilePath(record), sizeBytes);
                Commit(catalog);
            }
            else
            {
                Commit(catalog);
                SetFileLength(FilePath(record), sizeBytes);
            }

            return resized;
        }
    }

    /// <summary>Opens a volume for I/O.</summary>
    public FileVolume OpenVolume(string name)
    {
        var record = Find(name) ?? throw new InvalidOperationException($"No volume '{name}'.");
        return FileVolume.OpenOrCreate(FilePath(record), record.SizeBytes, record.BlockSize, null);
    }

    public string FilePath(VolumeRecord record) => Path.Combine(DriveOf(record).Path, record.FileName);

    /// <summary>Makes the drives' files match the catalog after an interrupted change.</summary>
    private void Repair()
    {
        lock (_lock)
        {
            var names = _catalog.Volumes.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var drive in _catalog.Drives)
            {
                if (!Directory.Exists(drive.Path))
                {
                    continue;
                }

                foreach (string aside in Directory.EnumerateFiles(drive.Path, "*" + DeletingSuffix))
                {
                    string name = Path.GetFileName(aside)[..^DeletingSuffix.Length];
                    if (names.Contains(name) && _catalog.Volumes.First(v => v.Name == name).Drive == drive.Id)
                    {
                        // The delete was not committed: the volume still exists.
                        File.Move(aside, Path.Combine(drive.Path, name + VolumeSuffix), overwrite: false);
                        VolumesLog.Repaired(_logger, name, "restored after an interrupted delete");
                    }
                    else
                    {
                        File.Delete(aside);
                        VolumesLog.Repaired(_logger, name, "finished an interrupted delete");
                    }
                }

                foreach (string file in Directory.EnumerateFiles(drive.Path, "*" + VolumeSuffix))
                {
                    string name = Path.GetFileName(file)[..^VolumeSuffix.Length];
                    if (names.Contains(name))
                    {
                        continue;
                    }

                    // Not in the catalog: a create that was never committed leaves an empty sparse
                    // file; anything holding data is somebody's and is kept.
                    if (Libc.GetAllocatedBytes(file) == 0)
                    {
                        File.Delete(file);
                        VolumesLog.Repaired(_logger, name, "removed the file of an interrupted create");
                    }
                    else
                    {
                        VolumesLog.UnknownFile(_logger, file);
                    }
                }

                VolumeCatalog.SyncDirectory(drive.Path);
            }

            foreach (var record in _catalog.Volumes)
            {
                string path = FilePath(record);
                if (!File.Exists(path))
                {
                    VolumesLog.MissingFile(_logger, record.Name, path);
                    continue;
                }

                long length = new FileInfo(path).Length;
                if (length != record.SizeBytes)
                {
                    SetFileLength(path, record.SizeBytes);
                    VolumesLog.Repaired(_logger, record.Name, $"file length {length} set to the catalog's {record.SizeBytes} after an interrupted resize");
                }
            }
        }
    }

    private DriveRecord PlaceNew(Guid id)
    {
        var drives = _catalog.Drives;
        if (drives.Count == 0)
        {
            throw new InvalidOperationException("No data directory is configured.");
        }

        Span<ulong> ids = stackalloc ulong[drives.Count];
        var weights = new double[drives.Count];
        for (int i = 0; i < drives.Count; i++)
        {
            ids[i] = StableHash(drives[i].Id);
            weights[i] = drives[i].Weight;
        }

        return drives[Straw2.Select(Straw2.ChunkKey(id, 0), ids, weights)];
    }

    /// <summary>FNV-1a of a drive id: string.GetHashCode is randomized per process and must not decide placement.</summary>
    private static ulong StableHash(string value)
    {
        ulong hash = 14695981039346656037;
        foreach (char c in value)
        {
            hash = (hash ^ c) * 1099511628211;
        }

        return hash;
    }

    private VolumeRecord Require(string name) =>
        _catalog.Volumes.FirstOrDefault(v => v.Name == name) ?? throw new InvalidOperationException($"No volume '{name}'.");

    private DriveRecord DriveOf(VolumeRecord record) => _catalog.Drives.First(d => d.Id == record.Drive);

    private void Commit(CatalogDocument catalog)
    {
        VolumeCatalog.Save(_catalogPath, catalog);
        _catalog = catalog;
    }

    private static void SetFileLength(string path, long length)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        file.SetLength(length);
        file.Flush(flushToDisk: true);
    }
}
