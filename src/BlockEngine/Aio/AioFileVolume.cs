using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NovaStor.BlockEngine.Aio;

/// <summary>
/// A volume backed by one regular file or block device opened with O_DIRECT, its requests run with
/// Linux native AIO (see <see cref="AioReactor"/>): Read = PREAD, Write = PWRITE (RWF_DSYNC with
/// ForceUnitAccess), Flush = FDSYNC. WriteZeroes and Deallocate, which AIO does not offer, are
/// <see cref="FileVolume"/>'s (fallocate ZERO_RANGE / PUNCH_HOLE on a file, BLKZEROOUT / BLKDISCARD
/// on a device, fdatasync for FUA), run on the reactor's worker thread.
/// </summary>
/// <remarks>
/// Opening and probing are <see cref="FileVolume"/>'s, which this class wraps: it owns the
/// descriptor. Without O_DIRECT, AIO reads and writes run synchronously inside io_submit, so such a
/// file is never given to this class (<see cref="BlockEngineHost"/> serves it positionally).
/// Completions are always delivered on an AIO reactor thread. A flush covers every write completed
/// before it, whichever reactor ran it (fdatasync is per file).
/// </remarks>
public sealed class AioFileVolume : IBlockVolume, IAioHandler, IAllocationQuery, IGrowableVolume
{
    private const byte StageRejected = 0;
    private const byte StagePrimary = 1;

    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(30);

    private readonly FileVolume _file;
    private readonly IVolumeBackend _blocking;
    private readonly AioReactorPool _reactors;
    private readonly ILogger _logger;
    private readonly int _fd;
    private readonly long _blockMask;
    private readonly nint _alignmentMask;
    private volatile bool _fdsyncSupported = true;

    // One reference for the owner plus one per accepted request; the file closes when it reaches zero.
    private readonly VolumeLifetime _lifetime;

    private AioFileVolume(FileVolume file, AioReactorPool reactors, ILogger logger)
    {
        _file = file;
        _blocking = file;
        _reactors = reactors;
        _logger = logger;
        _lifetime = new VolumeLifetime(file.FilePath, file.Dispose, logger);
        _fd = file.FileDescriptor;
        _blockMask = file.BlockSize - 1;
        _alignmentMask = file.BufferAlignment - 1;
    }

    public string FilePath => _file.FilePath;

    public long SizeBytes => _file.SizeBytes;

    /// <summary>Requests are validated against the file volume's size, so growing it is enough.</summary>
    public void Grow(long newSizeBytes) => _file.Grow(newSizeBytes);

    public int BlockSize => _file.BlockSize;

    public int BufferAlignment => _file.BufferAlignment;

    public bool DeallocatedReadsZeroes => _file.DeallocatedReadsZeroes;

    /// <summary>Data blocks of the file (SEEK_DATA/SEEK_HOLE), as <see cref="FileVolume.CountAllocatedBlocks"/>.</summary>
    public long? CountAllocatedBlocks() => _file.CountAllocatedBlocks();

    /// <summary>
    /// Serves an opened <paramref name="file"/> on <paramref name="reactors"/> (which the caller owns
    /// and disposes after the volume); the volume owns the file from here on.
    /// </summary>
    /// <exception cref="ArgumentException">The file is not open with O_DIRECT.</exception>
    public static AioFileVolume Create(FileVolume file, AioReactorPool reactors, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(reactors);
        if (!file.UsesDirectIo)
        {
            throw new ArgumentException($"'{file.FilePath}' is not open with O_DIRECT: Linux native AIO would run synchronously.", nameof(file));
        }

        logger ??= NullLogger.Instance;
        AioLog.VolumeOpened(logger, file.FilePath, reactors.Count);
        return new AioFileVolume(file, reactors, logger);
    }

    public void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
    {
        ArgumentNullException.ThrowIfNull(completion);
        AioReactor reactor = request.Lane?.AioReactor is { } bound && bound.Pool == _reactors ? bound : _reactors.Next();
        AioOperation op = default;
        op.Handler = this;
        op.Completion = completion;
        op.UserData = userData;
        op.Operation = request.Operation;
        op.BlockFlags = request.Flags;
        op.Fd = _fd;
        op.Offset = request.Offset;
        op.Length = request.Length;
        op.Buffer = request.Buffer;

        int error = BlockRequestRules.Validate(in request, _file.SizeBytes, _blockMask, _alignmentMask);
        if (error == 0 && !_lifetime.TryEnter())
        {
            error = Errno.ENODEV;
        }
        if (error != 0)
        {
            op.Opcode = AioOpcode.Complete;
            op.Stage = StageRejected;
            op.Error = error;
            Start(reactor, in op);
            return;
        }

        op.Stage = StagePrimary;
        op.Opcode = request.Operation switch
        {
            BlockOperation.Read => AioOpcode.Read,
            BlockOperation.Write => AioOpcode.Write,
            BlockOperation.Flush when _fdsyncSupported => AioOpcode.Fdsync,
            _ => AioOpcode.Blocking,
        };
        if (request.Operation == BlockOperation.Write && (request.Flags & BlockFlags.ForceUnitAccess) != 0)
        {
            op.RwFlags = AioNative.RWF_DSYNC;
        }
        Start(reactor, in op);
    }

    /// <summary>
    /// Stops accepting requests (later ones complete with ENODEV), waits a bounded time for the
    /// accepted ones, then closes the file (or lets the last straggler close it).
    /// </summary>
    public void Dispose() => _lifetime.Close(DisposeWait);

    int IAioHandler.ExecuteBlocking(in AioOperation operation)
    {
        var request = new BlockRequest(operation.Operation, operation.Offset, operation.Length, operation.Buffer, operation.BlockFlags);
        return _blocking.Execute(in request);
    }

    void IAioHandler.OnAioCompleted(AioReactor reactor, in AioOperation operation, int error)
    {
        if (operation.Opcode == AioOpcode.Fdsync && error == Errno.EINVAL)
        {
            // Kernels before 4.18 (and files whose filesystem has no fsync for AIO) refuse FDSYNC.
            if (_fdsyncSupported)
            {
                _fdsyncSupported = false;
                AioLog.NoAioFdsync(_logger, FilePath, IoUringNative.DescribeErrno(error));
            }
            AioOperation retry = operation;
            retry.Opcode = AioOpcode.Blocking;
            Start(reactor, in retry);
            return;
        }

        Deliver(in operation, error);
    }

    private void Start(AioReactor reactor, in AioOperation operation)
    {
        if (!reactor.TrySubmit(in operation))
        {
            // The pool was disposed before the volume: complete on the thread pool, never inline.
            AioOperation copy = operation;
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Volume.Deliver(in state.Op, Errno.ENODEV),
                (Volume: this, Op: copy), preferLocal: false);
        }
    }

    private void Deliver(in AioOperation operation, int error)
    {
        try
        {
            operation.Completion!.OnBlockCompleted(operation.UserData, error);
        }
        catch (Exception e)
        {
            Log.CompletionThrew(_logger, FilePath, operation.UserData, e);
        }
        finally
        {
            if (operation.Stage != StageRejected)
            {
                _lifetime.Exit();
            }
        }
    }
}
