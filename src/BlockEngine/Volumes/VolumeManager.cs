using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// Creates, deletes, resizes and lists thin volumes across one or more data directories (one per
/// drive), keeping the catalog the single truth. A volume is one file per drive of its stripe (one
/// drive unless striped), each as long as the volume (see <see cref="StripedVolume"/>). Every change
/// orders its file work and its catalog write so that a process killed between them, or between two
/// member files, leaves something <see cref="Open"/> repairs:
/// <list type="bullet">
/// <item>create and grow touch every member file first, then commit the catalog (an uncommitted file is empty and removed);</item>
/// <item>delete renames every member aside, commits the catalog, then unlinks (a renamed file is restored or removed by what the catalog says);</item>
/// <item>shrink commits the catalog first, then truncates every member (each is cut to the catalog's size).</item>
/// </list>
/// Placement: a new volume goes to the drives straw2 picks for its id, weighted by capacity
/// (<see cref="StripePlacement"/>). Admin path only: one lock, never on the I/O path.
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
        logger ??= NullLogger.Instance;
        var catalog = VolumeCatalog.Load(catalogPath, out int storedVersion);
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

        if (storedVersion != CatalogDocument.CurrentVersion)
        {
            // Written back at once, so the file says what the process believes from now on.
            VolumesLog.CatalogMigrated(logger, catalogPath, storedVersion, CatalogDocument.CurrentVersion);
            changed = true;
        }

        if (changed)
        {
            catalog = catalog with { Drives = known };
            VolumeCatalog.Save(catalogPath, catalog);
        }

        var manager = new VolumeManager(catalogPath, catalog, logger);
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

    /// <summary>The drives volumes are placed on.</summary>
    public IReadOnlyList<DriveRecord> Drives
    {
        get
        {
            lock (_lock)
            {
                return _catalog.Drives;
            }
        }
    }

    /// <summary>Creates a thin volume: sparse member files, nothing allocated, then the catalog entry.</summary>
    /// <param name="stripeWidth">How many drives the volume is striped over, in 4 MiB chunks; 1 (the default) is not striped.</param>
    public VolumeRecord Create(string name, long sizeBytes, int blockSize, int stripeWidth = 1)
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
            var stripe = StripePlacement.Choose(id, _catalog.Drives, stripeWidth);
            var record = new VolumeRecord(name, id, sizeBytes, blockSize, stripe, VolumeRecord.DefaultChunkBytes);
            var created = new List<string>(stripe.Count);
            try
            {
                foreach (var member in stripe)
                {
                    string path = Path.Combine(Drive(member.Drive).Path, record.FileName);
                    using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                    {
                        created.Add(path);
                        file.SetLength(sizeBytes);
                        file.Flush(flushToDisk: true);
                    }

                    VolumeCatalog.SyncDirectory(Drive(member.Drive).Path);
                }
            }
            catch
            {
                // Nothing is committed yet: the member files made so far are empty and go.
                foreach (string path in created)
                {
                    File.Delete(path);
                }

                throw;
            }

            Commit(_catalog with { Volumes = [.. _catalog.Volumes, record] });
            return record;
        }
    }

    /// <summary>
    /// Records an existing volume file (NAME.img on drive <paramref name="driveId"/>, left by a
    /// version without the catalog, or copied in by an operator) as an unstriped volume of the
    /// file's current length. Its data is kept as it is.
    /// </summary>
    /// <exception cref="FileNotFoundException">There is no such file on that drive.</exception>
    /// <exception cref="InvalidOperationException">The volume already exists, or the drive is unknown.</exception>
    /// <exception cref="ArgumentException">The name is invalid, or the file's length is not a positive multiple of the block size.</exception>
    public VolumeRecord Adopt(string name, int blockSize, string driveId)
    {
        if (!VolumeCatalog.IsValidName(name))
        {
            throw new ArgumentException($"'{name}' is not a valid volume name (letters, digits, '.', '_', '-'; at most 128).", nameof(name));
        }

        lock (_lock)
        {
            if (_catalog.Volumes.Any(v => v.Name == name))
            {
                throw new InvalidOperationException($"Volume '{name}' already exists.");
            }

            var drive = _catalog.Drives.FirstOrDefault(d => d.Id == driveId)
                ?? throw new InvalidOperationException($"Drive '{driveId}' is not in the catalog.");
            string path = Path.Combine(drive.Path, name + VolumeSuffix);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"No volume file {path} to adopt.", path);
            }

            long length = new FileInfo(path).Length;
            if (blockSize is not (512 or 4096) || length <= 0 || length % blockSize != 0)
            {
                throw new ArgumentException($"{path} is {length} bytes: not a positive multiple of the block size {blockSize} (512 or 4096).", nameof(blockSize));
            }

            var record = new VolumeRecord(name, Guid.NewGuid(), length, blockSize, [new StripeMember(drive.Id, drive.Weight)], VolumeRecord.DefaultChunkBytes);
            Commit(_catalog with { Volumes = [.. _catalog.Volumes, record] });
            VolumesLog.Repaired(_logger, name, $"adopted the existing file {path} ({length} bytes) into the catalog");
            return record;
        }
    }

    /// <summary>Deletes a volume: its data is gone, on every drive, once this returns.</summary>
    public void Delete(string name)
    {
        lock (_lock)
        {
            var record = Require(name);
            foreach (var member in record.Stripe)
            {
                string path = FilePath(record, member.Drive);
                if (File.Exists(path))
                {
                    File.Move(path, AsidePath(path), overwrite: true);
                    VolumeCatalog.SyncDirectory(Drive(member.Drive).Path);
                }
            }

            Commit(_catalog with { Volumes = [.. _catalog.Volumes.Where(v => v.Name != name)] });
            foreach (var member in record.Stripe)
            {
                File.Delete(AsidePath(FilePath(record, member.Drive)));
                VolumeCatalog.SyncDirectory(Drive(member.Drive).Path);
            }
        }
    }

    /// <summary>Grows or shrinks a volume (every member file). Shrinking discards the data past the new end.</summary>
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
                foreach (string path in FilePaths(record))
                {
                    SetFileLength(path, sizeBytes);
                }

                Commit(catalog);
            }
            else
            {
                Commit(catalog);
                foreach (string path in FilePaths(record))
                {
                    SetFileLength(path, sizeBytes);
                }
            }

            return resized;
        }
    }

    /// <summary>Opens a volume for I/O with the portable backend (<see cref="FileVolume"/> members).</summary>
    public IBlockVolume OpenVolume(string name) =>
        OpenVolume(name, static (path, sizeBytes, blockSize) => FileVolume.OpenOrCreate(path, sizeBytes, blockSize));

    /// <summary>
    /// Opens a volume for I/O on any engine: <paramref name="openFile"/> opens one member file
    /// (path, size in bytes, block size). An unstriped volume is that member itself; a striped one
    /// is a <see cref="StripedVolume"/> owning its members.
    /// </summary>
    /// <exception cref="InvalidOperationException">No such volume.</exception>
    /// <exception cref="FileNotFoundException">A member file is missing: it is never silently recreated empty.</exception>
    public IBlockVolume OpenVolume(string name, Func<string, long, int, IBlockVolume> openFile)
    {
        ArgumentNullException.ThrowIfNull(openFile);
        VolumeRecord record;
        IReadOnlyList<string> paths;
        lock (_lock)
        {
            record = Require(name);
            paths = FilePaths(record);
        }

        var members = new List<IBlockVolume>(paths.Count);
        try
        {
            foreach (string path in paths)
            {
                if (!File.Exists(path))
                {
                    throw new FileNotFoundException($"Volume '{name}': the member file {path} is missing.", path);
                }

                members.Add(openFile(path, record.SizeBytes, record.BlockSize));
            }

            if (!record.IsStriped)
            {
                return members[0];
            }

            var ids = new ulong[record.Stripe.Count];
            var weights = new double[record.Stripe.Count];
            for (int i = 0; i < ids.Length; i++)
            {
                ids[i] = Straw2.StableId(record.Stripe[i].Drive);
                weights[i] = record.Stripe[i].Weight;
            }

            return new StripedVolume(record.Id, members, ids, weights, record.ChunkBytes, _logger);
        }
        catch
        {
            foreach (var member in members)
            {
                member.Dispose();
            }

            throw;
        }
    }

    /// <summary>The member files of a volume, in stripe order (one for an unstriped volume).</summary>
    public IReadOnlyList<string> FilePaths(VolumeRecord record)
    {
        lock (_lock)
        {
            return [.. record.Stripe.Select(m => FilePath(record, m.Drive))];
        }
    }

    /// <summary>Makes the drives' files match the catalog after an interrupted change.</summary>
    private void Repair()
    {
        lock (_lock)
        {
            foreach (var drive in _catalog.Drives)
            {
                if (!Directory.Exists(drive.Path))
                {
                    continue;
                }

                foreach (string aside in Directory.EnumerateFiles(drive.Path, "*" + DeletingSuffix))
                {
                    string name = Path.GetFileName(aside)[..^DeletingSuffix.Length];
                    if (HasMember(name, drive.Id))
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
                    if (HasMember(name, drive.Id))
                    {
                        continue;
                    }

                    // Not in the catalog (on this drive): a create that was never committed leaves
                    // empty sparse files; anything holding data is somebody's and is kept.
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
                foreach (string path in FilePaths(record))
                {
                    if (!File.Exists(path))
                    {
                        VolumesLog.MissingFile(_logger, record.Name, path);
                        continue;
                    }

                    long length = new FileInfo(path).Length;
                    if (length != record.SizeBytes)
                    {
                        SetFileLength(path, record.SizeBytes);
                        VolumesLog.Repaired(_logger, record.Name, $"file length {length} of {path} set to the catalog's {record.SizeBytes} after an interrupted resize");
                    }
                }
            }
        }
    }

    private VolumeRecord Require(string name) =>
        _catalog.Volumes.FirstOrDefault(v => v.Name == name) ?? throw new InvalidOperationException($"No volume '{name}'.");

    private DriveRecord Drive(string id) => _catalog.Drives.First(d => d.Id == id);

    private string FilePath(VolumeRecord record, string driveId) => Path.Combine(Drive(driveId).Path, record.FileName);

    private static string AsidePath(string path) => Path.ChangeExtension(path, null) + DeletingSuffix;

    /// <summary>True when the catalog has volume <paramref name="name"/> with a member on drive <paramref name="driveId"/>.</summary>
    private bool HasMember(string name, string driveId) =>
        _catalog.Volumes.Any(v => v.Name == name && v.Stripe.Any(m => m.Drive == driveId));

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
