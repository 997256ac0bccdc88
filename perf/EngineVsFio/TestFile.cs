namespace NovaStor.EngineVsFio;

/// <summary>
/// The file both sides run against: in <c>--dir</c>, or a fresh directory under /var/tmp (a disk
/// filesystem; /tmp may be tmpfs). Refuses memory-backed filesystems, and removes what it created.
/// </summary>
public sealed class TestFile : IDisposable
{
    private const string FileName = "novastor-engine-vs-fio.dat";

    private readonly string? _createdDirectory;
    private readonly bool _keep;

    private TestFile(string path, string? createdDirectory, string fileSystem, bool keep)
    {
        FilePath = path;
        _createdDirectory = createdDirectory;
        FileSystem = fileSystem;
        _keep = keep;
    }

    public string FilePath { get; }

    /// <summary>The filesystem's name (ext4, xfs...) or its magic number.</summary>
    public string FileSystem { get; }

    /// <exception cref="InvalidOperationException">The directory is on tmpfs/ramfs, lacks space, or the file exists.</exception>
    public static TestFile Create(string? directory, long sizeBytes, bool keep)
    {
        string? created = null;
        if (directory is null)
        {
            string parent = Directory.Exists("/var/tmp") ? "/var/tmp" : Path.Combine("artifacts", "perf");
            created = Directory.CreateDirectory(Path.Combine(parent, "novastor-engine-vs-fio-" + Path.GetRandomFileName())).FullName;
            directory = created;
        }
        else
        {
            directory = Directory.CreateDirectory(directory).FullName;
        }

        try
        {
            long magic = NativeFs.FileSystemMagic(directory);
            if (NativeFs.IsMemoryBacked(magic))
            {
                throw new InvalidOperationException(
                    $"'{directory}' is on {NativeFs.Describe(magic)}: O_DIRECT there measures memory, not storage. Pass --dir on a disk filesystem.");
            }
            long free = new DriveInfo(directory).AvailableFreeSpace;
            if (free < sizeBytes + (256L << 20))
            {
                throw new InvalidOperationException($"'{directory}' has {free >> 20} MiB free; the test file needs {sizeBytes >> 20} MiB.");
            }
            string path = Path.Combine(directory, FileName);
            if (File.Exists(path))
            {
                throw new InvalidOperationException($"'{path}' already exists (a previous run kept it?); remove it or choose another --dir.");
            }
            return new TestFile(path, created, NativeFs.Describe(magic), keep);
        }
        catch
        {
            if (created is not null)
            {
                Directory.Delete(created, recursive: true);
            }
            throw;
        }
    }

    /// <summary>True when every byte of the file is allocated (it was written, not left sparse).</summary>
    public bool IsFullyAllocated(long sizeBytes) => NativeFs.AllocatedBytes(FilePath) >= sizeBytes;

    public void Dispose()
    {
        if (_keep)
        {
            return;
        }
        File.Delete(FilePath);
        if (_createdDirectory is not null)
        {
            Directory.Delete(_createdDirectory, recursive: true);
        }
    }
}
