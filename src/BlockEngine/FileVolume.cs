using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine;

/// <summary>
/// A volume backed by one regular file (thin, sparse, when created) or one raw block device, O_DIRECT
/// when the storage supports it, requests executed with pread/pwrite/fdatasync/fallocate (ioctls on a
/// device) on the .NET thread pool.
/// </summary>
/// <remarks>
/// <para>The portable backend, usable where io_uring is refused. Each request blocks one thread-pool
/// thread for the duration of its system calls.</para>
/// <para>Read = pread; Write = pwrite, or pwritev2(RWF_DSYNC) with ForceUnitAccess; Flush = fdatasync
/// (its offset and length are ignored); WriteZeroes = fallocate(ZERO_RANGE | KEEP_SIZE), or writing
/// zeroes where the filesystem lacks it (tmpfs); Deallocate = fallocate(PUNCH_HOLE | KEEP_SIZE), or
/// writing zeroes where unsupported. ForceUnitAccess on WriteZeroes or Deallocate adds an fdatasync.
/// Buffers must be aligned to <see cref="BufferAlignment"/> in every mode, so code that works on a
/// buffered volume also works on a direct one.</para>
/// <para>On a block device (<see cref="IsBlockDevice"/>): WriteZeroes = ioctl(BLKZEROOUT), Deallocate =
/// ioctl(BLKDISCARD), and <see cref="DeallocatedReadsZeroes"/> is false because what a discarded range
/// reads back is up to the device. A device is never created, truncated or fallocated.</para>
/// <para>The block size is refused when it is smaller than the O_DIRECT offset alignment statx reports
/// (or, on a device, than its logical block size): such a volume could not honour its own block size.</para>
/// </remarks>
public sealed unsafe class FileVolume : IBlockVolume, IVolumeBackend, IAllocationQuery, IGrowableVolume
{
    /// <summary>Largest write issued when Write Zeroes or Deallocate has to write zeroes.</summary>
    private const int ZeroChunk = 1 << 20;

    private const uint FileMode = 0x180; // 0600: volume data belongs to its tenant only

    private readonly VolumeDispatcher _dispatcher;
    private readonly ILogger _logger;
    private readonly int _fd;
    private AlignedBuffer? _zeroes;
    private volatile bool _zeroRangeSupported = true;
    private volatile bool _dsyncWriteSupported = true;
    private volatile bool _discardSupported = true;

    private FileVolume(string path, int fd, long sizeBytes, int blockSize, int bufferAlignment,
        bool directIo, bool punchHole, bool created, bool blockDevice, ILogger logger)
    {
        FilePath = path;
        _fd = fd;
        _sizeBytes = sizeBytes;
        BlockSize = blockSize;
        BufferAlignment = bufferAlignment;
        UsesDirectIo = directIo;
        DeallocatedReadsZeroes = punchHole;
        Created = created;
        IsBlockDevice = blockDevice;
        _logger = logger;
        _dispatcher = new VolumeDispatcher(this, path, sizeBytes, blockSize, bufferAlignment, logger);
    }

    /// <summary>Full path of the backing file or block device.</summary>
    public string FilePath { get; }

    private long _sizeBytes;

    public long SizeBytes => Volatile.Read(ref _sizeBytes);

    public int BlockSize { get; }

    public void Grow(long newSizeBytes)
    {
        long current = SizeBytes;
        if (newSizeBytes < current || newSizeBytes % BlockSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(newSizeBytes), newSizeBytes, $"A volume of {current} bytes grows only, in whole blocks of {BlockSize}.");
        }

        if (IsBlockDevice)
        {
            throw new InvalidOperationException($"{FilePath} is a block device; its size is the device's.");
        }

        // The dispatcher checks request ranges against its own copy; widen it after the size
        // readers see, so no request is accepted beyond what SizeBytes reports.
        Volatile.Write(ref _sizeBytes, newSizeBytes);
        _dispatcher.Grow(newSizeBytes);
    }

    public int BufferAlignment { get; }

    /// <summary>
    /// True when the filesystem supports fallocate(PUNCH_HOLE | KEEP_SIZE) (probed at open): a
    /// deallocated range is then a hole and reads back as zeroes.
    /// </summary>
    public bool DeallocatedReadsZeroes { get; }

    /// <summary>True when the file is open with O_DIRECT (reads and writes bypass the page cache).</summary>
    public bool UsesDirectIo { get; }

    /// <summary>True when this <see cref="OpenOrCreate"/> call created the file.</summary>
    public bool Created { get; }

    /// <summary>
    /// True when the path is a block device: Write Zeroes and Deallocate are ioctls there, never
    /// fallocate (so an io_uring engine must route them through this class).
    /// </summary>
    public bool IsBlockDevice { get; }

    /// <summary>
    /// Blocks of the file that hold data, from SEEK_DATA/SEEK_HOLE (<see cref="Allocation.AllocationMap"/>):
    /// a never-written or deallocated range counts nothing, so hosts see the volume's real use.
    /// Null for a block device, which is not thin.
    /// </summary>
    public long? CountAllocatedBlocks() => IsBlockDevice
        ? null
        : Math.Min(Allocation.AllocationMap.CountAllocatedBlocks(FilePath, BlockSize), SizeBytes / BlockSize);

    /// <summary>The descriptor, for tests (e.g. to read its flags in /proc/self/fdinfo).</summary>
    internal int FileDescriptor => _fd;

    /// <summary>
    /// Opens the volume file at <paramref name="path"/>, creating it thin (sparse, every block
    /// reading zeroes) with <paramref name="sizeBytes"/> bytes when it does not exist; or opens the
    /// block device at <paramref name="path"/>.
    /// </summary>
    /// <remarks>
    /// <para>An existing file keeps its own size: <paramref name="sizeBytes"/> is used only at creation
    /// (a difference is logged, never acted upon; resizing is a separate, explicit operation). The
    /// arguments are validated either way. The containing directory must exist; a new file and its
    /// directory entry are fsynced before this returns. A file created by this call is removed again
    /// when the volume is refused.</para>
    /// <para>A block device is opened with O_EXCL (EBUSY when it is mounted or already open as a
    /// volume). Its size comes from BLKGETSIZE64: <paramref name="sizeBytes"/> 0 means the whole
    /// device (rounded down to whole blocks), otherwise the volume is the first
    /// <paramref name="sizeBytes"/> bytes of the device, which must have that many.</para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">blockSize is not 512 or 4096; sizeBytes is not a positive multiple of it (0 is allowed
    /// for a block device) or exceeds the device; blockSize is smaller than the O_DIRECT offset alignment of the file, or than the
    /// logical block size or O_DIRECT alignment of the device.</exception>
    /// <exception cref="InvalidDataException">The existing file is not a regular file or a block device, or its size is not a positive multiple of blockSize.</exception>
    /// <exception cref="IOException">The file cannot be opened or created (a DirectoryNotFoundException when the directory is missing; HResult is the errno otherwise).</exception>
    /// <exception cref="UnauthorizedAccessException">Permission denied (EACCES, EPERM).</exception>
    public static FileVolume OpenOrCreate(string path, long sizeBytes, int blockSize, ILogger? logger = null)
        => OpenOrCreate(path, sizeBytes, blockSize, logger, allowDirectIo: true);

    internal static FileVolume OpenOrCreate(string path, long sizeBytes, int blockSize, ILogger? logger, bool allowDirectIo)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        BlockRequestRules.ThrowIfInvalidGeometry(sizeBytes, blockSize, allowZeroSize: true); // 0: a whole block device
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("FileVolume needs Linux (pread/pwrite, fallocate, O_DIRECT).");
        }
        logger ??= NullLogger.Instance;
        string fullPath = Path.GetFullPath(path);

        if (Libc.Statx(fullPath, Libc.STATX_MODE, out Libc.StatX target) == 0 && (target.Mode & Libc.S_IFMT) == Libc.S_IFBLK)
        {
            return OpenBlockDevice(fullPath, sizeBytes, blockSize, logger, allowDirectIo);
        }
        if (sizeBytes == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes,
                $"The volume size must be a positive multiple of the block size ({blockSize} bytes); 0 (the whole device) applies to block devices only.");
        }

        int fd = OpenOrCreateFile(fullPath, sizeBytes, logger, out bool created);
        try
        {
            int errno = Libc.Statx(fd, Libc.STATX_BASIC_STATS | Libc.STATX_DIOALIGN, out Libc.StatX st);
            if (errno != 0)
            {
                throw ErrnoException(errno, "statx", fullPath);
            }
            if ((st.Mode & Libc.S_IFMT) != Libc.S_IFREG)
            {
                throw new InvalidDataException($"'{fullPath}' is neither a regular file nor a block device.");
            }
            long actualSize = (long)st.Size;
            if (actualSize <= 0 || actualSize % blockSize != 0)
            {
                throw new InvalidDataException(
                    $"The volume file '{fullPath}' has {actualSize} bytes, not a positive multiple of the block size {blockSize}.");
            }
            if (!created && actualSize != sizeBytes)
            {
                Log.ExistingSizeDiffers(logger, fullPath, actualSize, sizeBytes);
            }

            bool dioKnown = (st.Mask & Libc.STATX_DIOALIGN) != 0 && st.DioOffsetAlign != 0 && st.DioMemAlign != 0;
            if (dioKnown && st.DioOffsetAlign > blockSize)
            {
                // Buffered I/O would work, but every write of one block would become a read-modify-write
                // of a larger sector in the page cache: slower, and a power cut could tear neighbouring
                // blocks the host never wrote. The volume's block size is a promise: refuse it.
                throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize,
                    $"The volume file '{fullPath}' needs O_DIRECT offsets aligned to {st.DioOffsetAlign} bytes; the block size {blockSize} is smaller. Use a block size of at least {st.DioOffsetAlign} bytes.");
            }
            int bufferAlignment = dioKnown ? (int)Math.Max(st.DioMemAlign, 512u) : AlignedBuffer.Alignment;
            bool directIo = false;
            if (!allowDirectIo)
            {
                Log.BufferedFallback(logger, fullPath, "direct I/O disabled by the caller");
            }
            else if (!dioKnown)
            {
                Log.BufferedFallback(logger, fullPath, "statx reports no direct I/O alignment for this filesystem");
            }
            else if (st.DioMemAlign > AlignedBuffer.Alignment)
            {
                Log.BufferedFallback(logger, fullPath,
                    $"direct I/O needs memory alignment {st.DioMemAlign}, more than the engine's {AlignedBuffer.Alignment}-byte buffers");
            }
            else
            {
                int directFd = TryOpenDirect(fullPath, blockSize, out string? reason);
                if (directFd >= 0)
                {
                    _ = Libc.Close(fd);
                    fd = directFd;
                    directIo = true;
                }
                else
                {
                    Log.BufferedFallback(logger, fullPath, reason!);
                }
            }

            bool punchHole = ProbePunchHole(fd, actualSize);
            Log.Opened(logger, fullPath, actualSize, blockSize, directIo, bufferAlignment, punchHole);
            return new FileVolume(fullPath, fd, actualSize, blockSize, bufferAlignment, directIo, punchHole, created, blockDevice: false, logger);
        }
        catch
        {
            _ = Libc.Close(fd);
            if (created)
            {
                _ = Libc.Unlink(fullPath); // refused: leave no half-made volume behind
            }
            throw;
        }
    }

    /// <summary>
    /// Opens a block device exclusively (O_EXCL: EBUSY when mounted or in use) and takes its geometry
    /// from the kernel: size (BLKGETSIZE64), logical block size (BLKSSZGET), O_DIRECT alignment (statx
    /// DIOALIGN, Linux 6.1+, else the logical block size). Nothing is written to the device.
    /// </summary>
    private static FileVolume OpenBlockDevice(string path, long sizeBytes, int blockSize, ILogger logger, bool allowDirectIo)
    {
        // Block devices always accept O_DIRECT at their logical block size: no buffered fallback.
        int flags = Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_EXCL | (allowDirectIo ? Libc.O_DIRECT : 0);
        int fd = Libc.Open(path, flags, 0, out int errno);
        if (fd < 0)
        {
            throw ErrnoException(errno, "open exclusively (O_EXCL; EBUSY: mounted or in use) the block device of", path);
        }
        try
        {
            errno = Libc.Statx(fd, Libc.STATX_BASIC_STATS | Libc.STATX_DIOALIGN, out Libc.StatX st);
            if (errno != 0)
            {
                throw ErrnoException(errno, "statx", path);
            }
            if ((st.Mode & Libc.S_IFMT) != Libc.S_IFBLK)
            {
                throw new InvalidDataException($"'{path}' stopped being a block device while it was opened.");
            }
            errno = Libc.BlockDeviceSize(fd, out long deviceBytes);
            if (errno != 0)
            {
                throw ErrnoException(errno, "read the size (BLKGETSIZE64) of", path);
            }
            errno = Libc.BlockDeviceLogicalBlockSize(fd, out int logicalBlockSize);
            if (errno != 0)
            {
                throw ErrnoException(errno, "read the logical block size (BLKSSZGET) of", path);
            }

            bool dioKnown = (st.Mask & Libc.STATX_DIOALIGN) != 0 && st.DioOffsetAlign != 0 && st.DioMemAlign != 0;
            int dioOffsetAlign = dioKnown ? (int)st.DioOffsetAlign : logicalBlockSize;
            int dioMemAlign = dioKnown ? (int)st.DioMemAlign : logicalBlockSize;
            if (blockSize < logicalBlockSize)
            {
                throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize,
                    $"The block device '{path}' has a logical block size of {logicalBlockSize} bytes; the block size {blockSize} is smaller. Use a block size of at least {logicalBlockSize} bytes.");
            }
            if (blockSize < dioOffsetAlign)
            {
                throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize,
                    $"The block device '{path}' needs O_DIRECT offsets aligned to {dioOffsetAlign} bytes; the block size {blockSize} is smaller. Use a block size of at least {dioOffsetAlign} bytes.");
            }
            if (dioMemAlign > AlignedBuffer.Alignment)
            {
                throw new IOException(
                    $"The block device '{path}' needs O_DIRECT buffers aligned to {dioMemAlign} bytes, more than the engine's {AlignedBuffer.Alignment}-byte buffers.");
            }

            long usableBytes = deviceBytes - (deviceBytes % blockSize);
            if (sizeBytes > usableBytes)
            {
                throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes,
                    $"The block device '{path}' has {deviceBytes} bytes ({usableBytes} in whole {blockSize}-byte blocks), fewer than the {sizeBytes} requested.");
            }
            long volumeBytes = sizeBytes == 0 ? usableBytes : sizeBytes;
            if (volumeBytes <= 0)
            {
                throw new InvalidDataException($"The block device '{path}' has {deviceBytes} bytes, not one whole block of {blockSize}.");
            }

            int bufferAlignment = Math.Max(dioMemAlign, 512);
            Log.DeviceOpened(logger, path, deviceBytes, volumeBytes, blockSize, logicalBlockSize, dioOffsetAlign, bufferAlignment, allowDirectIo);
            return new FileVolume(path, fd, volumeBytes, blockSize, bufferAlignment, allowDirectIo, punchHole: false, created: false, blockDevice: true, logger);
        }
        catch
        {
            _ = Libc.Close(fd);
            throw;
        }
    }

    public void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
        => _dispatcher.Submit(in request, completion, userData);

    /// <summary>
    /// Stops accepting requests (later ones complete with ENODEV), waits a bounded time for the
    /// accepted ones, then closes the file (or lets the last straggler close it).
    /// </summary>
    public void Dispose() => _dispatcher.Dispose(VolumeDispatcher.DisposeWait);

    int IVolumeBackend.Execute(in BlockRequest request)
    {
        int error;
        switch (request.Operation)
        {
            case BlockOperation.Read:
                return Libc.ReadExactly(_fd, (byte*)request.Buffer, request.Length, request.Offset);
            case BlockOperation.Write:
                return (request.Flags & BlockFlags.ForceUnitAccess) != 0
                    ? WriteDsync((byte*)request.Buffer, request.Length, request.Offset)
                    : Libc.WriteExactly(_fd, (byte*)request.Buffer, request.Length, request.Offset);
            case BlockOperation.Flush:
                return Libc.Fdatasync(_fd);
            case BlockOperation.WriteZeroes:
                error = IsBlockDevice
                    ? Libc.BlockDeviceZeroOut(_fd, request.Offset, request.Length)
                    : ZeroRange(request.Offset, request.Length);
                break;
            case BlockOperation.Deallocate:
                error = IsBlockDevice
                    ? Discard(request.Offset, request.Length)
                    : PunchHole(request.Offset, request.Length);
                break;
            default:
                return Errno.EINVAL;
        }
        // fallocate changes metadata only; FUA on these makes the change durable before completing.
        if (error == 0 && (request.Flags & BlockFlags.ForceUnitAccess) != 0)
        {
            error = Libc.Fdatasync(_fd);
        }
        return error;
    }

    void IVolumeBackend.ReleaseResources()
    {
        int errno = Libc.Close(_fd);
        if (errno != 0)
        {
            Log.CloseFailed(_logger, FilePath, Libc.Describe(errno));
        }
        Interlocked.Exchange(ref _zeroes, null)?.Dispose();
    }

    private int WriteDsync(byte* buffer, long length, long offset)
    {
        if (_dsyncWriteSupported)
        {
            int errno = Libc.WriteExactlyDsync(_fd, buffer, length, offset);
            if (errno is not (Errno.ENOSYS or Errno.EOPNOTSUPP))
            {
                return errno;
            }
            _dsyncWriteSupported = false;
            Log.DsyncWriteUnsupported(_logger, FilePath, Libc.Describe(errno));
        }
        int error = Libc.WriteExactly(_fd, buffer, length, offset);
        return error != 0 ? error : Libc.Fdatasync(_fd);
    }

    private int ZeroRange(long offset, long length)
    {
        if (_zeroRangeSupported)
        {
            int errno = Libc.Fallocate(_fd, Libc.FALLOC_FL_ZERO_RANGE | Libc.FALLOC_FL_KEEP_SIZE, offset, length);
            if (errno != Errno.EOPNOTSUPP)
            {
                return errno;
            }
            _zeroRangeSupported = false;
            Log.FallocateUnsupported(_logger, FilePath, "ZERO_RANGE", "Write Zeroes");
        }
        return WriteZeroes(offset, length);
    }

    private int PunchHole(long offset, long length)
    {
        if (DeallocatedReadsZeroes)
        {
            int errno = Libc.Fallocate(_fd, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, offset, length);
            if (errno != Errno.EOPNOTSUPP)
            {
                return errno;
            }
        }
        // The probe at open said no (or the filesystem changed its mind): zeroes keep the promise
        // that the range reads back as zeroes, at the cost of allocating it.
        return WriteZeroes(offset, length);
    }

    /// <summary>
    /// BLKDISCARD. A device that cannot discard at all (EOPNOTSUPP) gets nothing: Deallocate is a
    /// hint, and <see cref="DeallocatedReadsZeroes"/> is false on devices, so no read-back is promised.
    /// </summary>
    private int Discard(long offset, long length)
    {
        if (!_discardSupported)
        {
            return 0;
        }
        int errno = Libc.BlockDeviceDiscard(_fd, offset, length);
        if (errno != Errno.EOPNOTSUPP)
        {
            return errno;
        }
        _discardSupported = false;
        Log.DiscardUnsupported(_logger, FilePath);
        return 0;
    }

    private int WriteZeroes(long offset, long length)
    {
        AlignedBuffer zeroes = ZeroBuffer();
        byte* source = (byte*)zeroes.Address;
        while (length > 0)
        {
            int chunk = (int)Math.Min(length, ZeroChunk);
            int errno = Libc.WriteExactly(_fd, source, chunk, offset);
            if (errno != 0)
            {
                return errno;
            }
            offset += chunk;
            length -= chunk;
        }
        return 0;
    }

    private AlignedBuffer ZeroBuffer()
    {
        AlignedBuffer? zeroes = Volatile.Read(ref _zeroes);
        if (zeroes is not null)
        {
            return zeroes;
        }
        var fresh = new AlignedBuffer(ZeroChunk);
        zeroes = Interlocked.CompareExchange(ref _zeroes, fresh, null);
        if (zeroes is null)
        {
            return fresh;
        }
        fresh.Dispose();
        return zeroes;
    }

    /// <summary>Opens the existing file, or creates it thin; fsyncs a new file and its directory.</summary>
    private static int OpenOrCreateFile(string path, long sizeBytes, ILogger logger, out bool created)
    {
        while (true)
        {
            int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC, 0, out int errno);
            if (fd >= 0)
            {
                created = false;
                return fd;
            }
            if (errno != Errno.ENOENT)
            {
                throw ErrnoException(errno, "open", path);
            }

            fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_CREAT | Libc.O_EXCL, FileMode, out errno);
            if (fd < 0)
            {
                if (errno == Errno.EEXIST)
                {
                    continue; // created by someone else in between: open theirs
                }
                throw ErrnoException(errno, "create", path);
            }

            errno = Libc.Ftruncate(fd, sizeBytes);
            if (errno == 0)
            {
                errno = Libc.Fsync(fd);
            }
            if (errno == 0)
            {
                errno = FsyncDirectory(Path.GetDirectoryName(path)!);
            }
            if (errno != 0)
            {
                _ = Libc.Close(fd);
                _ = Libc.Unlink(path);
                throw ErrnoException(errno, $"create ({sizeBytes} bytes)", path);
            }
            Log.Created(logger, path, sizeBytes);
            created = true;
            return fd;
        }
    }

    private static int FsyncDirectory(string directory)
    {
        int fd = Libc.Open(directory, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0, out int errno);
        if (fd < 0)
        {
            return errno;
        }
        errno = Libc.Fsync(fd);
        _ = Libc.Close(fd);
        // Some filesystems refuse fsync on a directory; the entry is then as durable as they make it.
        return errno is Errno.EINVAL or Errno.EOPNOTSUPP ? 0 : errno;
    }

    /// <summary>
    /// Opens the file with O_DIRECT and proves it with one aligned read of a block. Returns the
    /// descriptor, or -1 with the reason (tmpfs before Linux 6.6 refuses O_DIRECT with EINVAL).
    /// </summary>
    private static int TryOpenDirect(string path, int blockSize, out string? reason)
    {
        int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_DIRECT, 0, out int errno);
        if (fd < 0)
        {
            reason = $"open with O_DIRECT failed: {Libc.Describe(errno)}";
            return -1;
        }
        using var probe = new AlignedBuffer(blockSize);
        errno = Libc.ReadExactly(fd, (byte*)probe.Address, blockSize, 0);
        if (errno != 0)
        {
            _ = Libc.Close(fd);
            reason = $"a direct read of one block failed: {Libc.Describe(errno)}";
            return -1;
        }
        reason = null;
        return fd;
    }

    /// <summary>
    /// Punches a hole of one page at the end of file with KEEP_SIZE: no data changes, and the
    /// answer says whether the filesystem supports PUNCH_HOLE at all.
    /// </summary>
    private static bool ProbePunchHole(int fd, long fileSize)
        => Libc.Fallocate(fd, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, fileSize, 4096) == 0;

    private static Exception ErrnoException(int errno, string operation, string path)
    {
        string message = $"Cannot {operation} volume '{path}': {Libc.Describe(errno)}.";
        return errno switch
        {
            Errno.ENOENT => new DirectoryNotFoundException(message),
            Errno.EACCES or Errno.EPERM => new UnauthorizedAccessException(message),
            _ => new IOException(message, errno),
        };
    }
}
