namespace NovaStor.BlockEngine.Aio;

/// <summary>What an <see cref="AioReactor"/> does with an operation.</summary>
internal enum AioOpcode : byte
{
    /// <summary>IOCB_CMD_PREAD.</summary>
    Read,
    /// <summary>IOCB_CMD_PWRITE (with <see cref="AioOperation.RwFlags"/>: RWF_DSYNC for FUA).</summary>
    Write,
    /// <summary>IOCB_CMD_FDSYNC (Linux 4.18+): fdatasync, run by the kernel's workqueue.</summary>
    Fdsync,
    /// <summary>A call AIO does not offer (fallocate, BLKZEROOUT, BLKDISCARD): run on the reactor's worker.</summary>
    Blocking,
    /// <summary>Already decided (<see cref="AioOperation.Error"/>): only delivered on the reactor thread.</summary>
    Complete,
}

/// <summary>The volume behind an operation: it says what a blocking operation does and receives every outcome.</summary>
internal interface IAioHandler
{
    /// <summary>Runs a <see cref="AioOpcode.Blocking"/> operation on the reactor's worker thread; returns 0 or errno.</summary>
    int ExecuteBlocking(in AioOperation operation);

    /// <summary>The operation finished (0 or errno); called on the reactor thread, exactly once per operation.</summary>
    void OnAioCompleted(AioReactor reactor, in AioOperation operation, int error);
}

/// <summary>
/// One request as an <see cref="AioReactor"/> carries it: copied into a slot of the reactor's table
/// while the kernel runs it (the slot index is the iocb's aio_data), so nothing is allocated per request.
/// </summary>
internal struct AioOperation
{
    public IAioHandler? Handler;
    public IBlockCompletion? Completion;
    public ulong UserData;
    public AioOpcode Opcode;
    public BlockOperation Operation;
    public BlockFlags BlockFlags;
    /// <summary>The handler's own state (which step of a multi-step request this is).</summary>
    public byte Stage;
    public int Fd;
    public int RwFlags;
    public long Offset;
    public long Length;
    public nint Buffer;
    /// <summary>Bytes already transferred (a short read or write continues from here).</summary>
    public long Done;
    /// <summary>The outcome of a <see cref="AioOpcode.Complete"/> operation.</summary>
    public int Error;
}
