namespace NovaStor.BlockEngine.Reactors;

/// <summary>What a reactor does with an operation.</summary>
internal enum ReactorOpcode : byte
{
    /// <summary>IORING_OP_READ of Length bytes at Offset into Buffer (short reads are resubmitted).</summary>
    Read,
    /// <summary>IORING_OP_WRITE of Length bytes from Buffer at Offset, RWF_* in Flags (short writes are resubmitted).</summary>
    Write,
    /// <summary>IORING_OP_FSYNC, IORING_FSYNC_* in Flags.</summary>
    Fsync,
    /// <summary>IORING_OP_FALLOCATE, FALLOC_FL_* mode in Flags.</summary>
    Fallocate,
    /// <summary>No I/O: the handler is called on the reactor thread with <see cref="ReactorOperation.Error"/>.</summary>
    Complete,
    /// <summary>IORING_OP_RECV into Buffer (Length bytes at most); the result goes to <see cref="ReactorOperation.Stream"/>.</summary>
    Receive,
    /// <summary>IORING_OP_SENDMSG of the msghdr at Buffer; the result goes to <see cref="ReactorOperation.Stream"/>.</summary>
    SendMessage,
    /// <summary>No I/O: <see cref="IReactorStream.OnPosted"/> with UserData, on the reactor thread.</summary>
    Message,
}

/// <summary>Called on the reactor thread when an operation finished (0 or a positive errno).</summary>
internal interface IReactorHandler
{
    void OnOperationCompleted(Reactor reactor, in ReactorOperation operation, int error);
}

/// <summary>
/// One operation posted to a <see cref="Reactor"/>: a value, copied into the inbox and into a slot
/// of the reactor's table (no allocation per operation once the table has grown to the peak).
/// </summary>
internal struct ReactorOperation
{
    public ReactorOpcode Opcode;
    /// <summary>Free for the handler (which stage of a multi-step request this is).</summary>
    public byte Stage;
    public BlockOperation Operation;
    public BlockFlags BlockFlags;
    public int Fd;
    /// <summary>RWF_* for Write, IORING_FSYNC_* for Fsync, the FALLOC_FL_* mode for Fallocate, MSG_* for Receive.</summary>
    public int Flags;
    /// <summary>The result a <see cref="ReactorOpcode.Complete"/> operation reports.</summary>
    public int Error;
    public nint Buffer;
    public long Offset;
    public long Length;
    public IReactorHandler Handler;
    public IBlockCompletion? Completion;
    /// <summary>The stream of a Receive, SendMessage or Message operation (Handler is unused then).</summary>
    public IReactorStream? Stream;
    public ulong UserData;
}
