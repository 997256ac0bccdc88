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
public sealed class AioFileVolume : EngineFileVolume, IAioHandler
{
    private const byte StageRejected = 0;
    private const byte StagePrimary = 1;

    private readonly IVolumeBackend _blocking;
    private readonly AioReactorPool _reactors;
    private readonly int _fd;
    private volatile bool _fdsyncSupported = true;

    private AioFileVolume(FileVolume file, AioReactorPool reactors, ILogger logger)
        : base(file, logger)
    {
        _blocking = file;
        _reactors = reactors;
        _fd = file.FileDescriptor;
    }

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

    public override void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
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

        int error = Accept(in request);
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
                AioLog.NoAioFdsync(Logger, FilePath, IoUringNative.DescribeErrno(error));
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
        => Deliver(operation.Completion!, operation.UserData, error, accepted: operation.Stage != StageRejected);
}
