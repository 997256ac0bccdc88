using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Reactors;

/// <summary>
/// A volume backed by one regular file or block device, its requests executed on io_uring reactors: Read = READ,
/// Write = WRITE (RWF_DSYNC with ForceUnitAccess), Flush = FSYNC(DATASYNC), WriteZeroes =
/// FALLOCATE(ZERO_RANGE | KEEP_SIZE), Deallocate = FALLOCATE(PUNCH_HOLE | KEEP_SIZE) on a file;
/// on a block device Write Zeroes and Deallocate are FileVolume's ioctls (BLKZEROOUT, BLKDISCARD).
/// ForceUnitAccess on WriteZeroes or Deallocate adds an FSYNC(DATASYNC) after the fallocate.
/// </summary>
/// <remarks>
/// <para>Opening, probing (statx DIO alignment, O_DIRECT, PUNCH_HOLE) and the synchronous
/// fallbacks are those of <see cref="FileVolume"/>, which this class wraps: it owns the
/// descriptor, and where the filesystem lacks a fallocate mode (tmpfs has no ZERO_RANGE) the
/// request runs through it (writing zeroes on the thread pool), its completion carried back to
/// the reactor thread. Completions are always delivered on a reactor thread.</para>
/// <para>Requests are spread round robin over the pool's reactors; a flush covers every write
/// completed before it, whichever ring ran it (fdatasync is per file).</para>
/// </remarks>
public sealed class IoUringFileVolume : EngineFileVolume, IReactorHandler
{
    private const byte StageRejected = 0;
    private const byte StagePrimary = 1;
    private const byte StageFuaFlush = 2;
    private const byte StageFallback = 3;

    private readonly ReactorPool _reactors;
    private readonly int _fd;
    private volatile bool _zeroRangeSupported = true;
    private volatile bool _punchHoleSupported;

    private IoUringFileVolume(FileVolume file, ReactorPool reactors, ILogger logger)
        : base(file, logger)
    {
        _reactors = reactors;
        _fd = file.FileDescriptor;
        _punchHoleSupported = file.DeallocatedReadsZeroes;
        // A block device zeroes and discards with ioctls (BLKZEROOUT, BLKDISCARD), not fallocate:
        // WriteZeroes goes straight to FileVolume, as Deallocate already does (a device's
        // DeallocatedReadsZeroes is false, so _punchHoleSupported is too).
        _zeroRangeSupported = !file.IsBlockDevice;
    }

    /// <summary>Whether io_uring can be set up in this process (probed once); the reason says why not.</summary>
    public static bool IsSupported(out string reason) => IoUring.IsSupported(out reason);

    /// <summary>
    /// Opens (or creates thin) the volume file exactly as <see cref="FileVolume.OpenOrCreate(string, long, int, ILogger?)"/>
    /// does, and runs its requests on <paramref name="reactors"/> (which the caller owns and disposes after the volume).
    /// </summary>
    public static IoUringFileVolume OpenOrCreate(string path, long sizeBytes, int blockSize, ReactorPool reactors, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(reactors);
        logger ??= NullLogger.Instance;
        FileVolume file = FileVolume.OpenOrCreate(path, sizeBytes, blockSize, logger);
        ReactorLog.VolumeOpened(logger, file.FilePath, reactors.Count);
        return new IoUringFileVolume(file, reactors, logger);
    }

    public override void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
    {
        ArgumentNullException.ThrowIfNull(completion);
        // A lane binds the request to its queue's reactor (where its buffer is registered); a lane
        // of another pool, or none, leaves the choice to round robin.
        Reactor reactor = request.Lane?.Reactor is { } bound && bound.Pool == _reactors ? bound : _reactors.Next();
        ReactorOperation op = default;
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
            op.Opcode = ReactorOpcode.Complete;
            op.Stage = StageRejected;
            op.Error = error;
            Post(reactor, in op);
            return;
        }

        op.Stage = StagePrimary;
        switch (request.Operation)
        {
            case BlockOperation.Read:
                op.Opcode = ReactorOpcode.Read;
                break;
            case BlockOperation.Write:
                op.Opcode = ReactorOpcode.Write;
                op.Flags = (request.Flags & BlockFlags.ForceUnitAccess) != 0 ? IoUringNative.RWF_DSYNC : 0;
                break;
            case BlockOperation.Flush:
                op.Opcode = ReactorOpcode.Fsync;
                op.Flags = (int)IoUringNative.IORING_FSYNC_DATASYNC;
                break;
            case BlockOperation.WriteZeroes when _zeroRangeSupported:
                op.Opcode = ReactorOpcode.Fallocate;
                op.Flags = Libc.FALLOC_FL_ZERO_RANGE | Libc.FALLOC_FL_KEEP_SIZE;
                break;
            case BlockOperation.Deallocate when _punchHoleSupported:
                op.Opcode = ReactorOpcode.Fallocate;
                op.Flags = Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE;
                break;
            default: // WriteZeroes or Deallocate the filesystem cannot do with fallocate
                StartFallback(reactor, in op);
                return;
        }
        Post(reactor, in op);
    }

    void IReactorHandler.OnOperationCompleted(Reactor reactor, in ReactorOperation operation, int error)
    {
        if (operation.Opcode == ReactorOpcode.Fallocate)
        {
            if (error == Errno.EOPNOTSUPP)
            {
                DisableFallocateMode(operation.Operation);
                StartFallback(reactor, in operation);
                return;
            }
            if (error == 0 && (operation.BlockFlags & BlockFlags.ForceUnitAccess) != 0)
            {
                // fallocate changes metadata only; FUA makes the change durable before completing.
                ReactorOperation flush = operation;
                flush.Opcode = ReactorOpcode.Fsync;
                flush.Flags = (int)IoUringNative.IORING_FSYNC_DATASYNC;
                flush.Stage = StageFuaFlush;
                Post(reactor, in flush);
                return;
            }
        }
        Deliver(in operation, error);
    }

    private void DisableFallocateMode(BlockOperation operation)
    {
        if (operation == BlockOperation.WriteZeroes && _zeroRangeSupported)
        {
            _zeroRangeSupported = false;
            ReactorLog.FallocateFallback(Logger, FilePath, "ZERO_RANGE", "Write Zeroes");
        }
        else if (operation == BlockOperation.Deallocate && _punchHoleSupported)
        {
            _punchHoleSupported = false;
            ReactorLog.FallocateFallback(Logger, FilePath, "PUNCH_HOLE", "Deallocate");
        }
    }

    /// <summary>
    /// Runs WriteZeroes/Deallocate through <see cref="FileVolume"/> (fallocate, or writing zeroes,
    /// plus fdatasync for FUA) on the thread pool; the result comes back to <paramref name="reactor"/>.
    /// One small object per request: this is the path of filesystems without the fallocate mode.
    /// </summary>
    private void StartFallback(Reactor reactor, in ReactorOperation operation)
    {
        var request = new BlockRequest(operation.Operation, operation.Offset, operation.Length, 0, operation.BlockFlags);
        File.Submit(in request, new FallbackCompletion(this, reactor, operation), 0);
    }

    private void Post(Reactor reactor, in ReactorOperation operation)
    {
        if (!reactor.TryPost(in operation))
        {
            // The pool was disposed before the volume: complete on the thread pool, never inline.
            ReactorOperation copy = operation;
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Volume.Deliver(in state.Op, Errno.ENODEV),
                (Volume: this, Op: copy), preferLocal: false);
        }
    }

    private void Deliver(in ReactorOperation operation, int error)
        => Deliver(operation.Completion!, operation.UserData, error, accepted: operation.Stage != StageRejected);

    private sealed class FallbackCompletion(IoUringFileVolume volume, Reactor reactor, ReactorOperation operation) : IBlockCompletion
    {
        public void OnBlockCompleted(ulong userData, int error)
        {
            ReactorOperation done = operation;
            done.Opcode = ReactorOpcode.Complete;
            done.Stage = StageFallback;
            done.Error = error;
            volume.Post(reactor, in done);
        }
    }
}
