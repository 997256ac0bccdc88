using NovaStor.BlockEngine;
using NovaStor.Protocol;

namespace NovaStor.Target.Core;

/// <summary>Which way a command's data moves.</summary>
internal enum DataDirection : byte
{
    None,
    /// <summary>Write-like: the host sends data (in-capsule or by R2T/H2CData) before execution.</summary>
    HostToController,
    /// <summary>Read-like: the controller sends C2HData before the response.</summary>
    ControllerToHost,
}

/// <summary>Where a command is in its life on the queue.</summary>
internal enum RequestState : byte
{
    /// <summary>In the free list of its queue.</summary>
    Free,
    /// <summary>Taken by a CapsuleCmd; parsing and in-capsule data handling.</summary>
    Received,
    /// <summary>Parsed; waits for a data buffer of its reactor's bounded pool (no R2T sent, nothing run yet).</summary>
    WaitingForBuffer,
    /// <summary>An R2T was sent; H2CData PDUs are filling the buffer.</summary>
    AwaitingData,
    /// <summary>Handed to the controller (admin logic or block engine); waits for completion.</summary>
    Executing,
    /// <summary>Completed; its data and response are queued for sending.</summary>
    Completing,
}

/// <summary>
/// One command's context, preallocated per queue slot and reused: the SQE, its data buffer,
/// and the completion it produces. Owned by its queue; the slot index doubles as the R2T
/// transfer tag and as the engine's user data, so nothing is allocated per command.
/// </summary>
internal sealed class NvmeRequest : IDisposable
{
    private readonly int _maxTransfer;
    private readonly EngineLane _lane;
    // The buffer this command uses now: rented from its reactor's pool (_pool set), this slot's
    // in-capsule buffer (_small), or, on transports without a pool, this slot's own (_own).
    private AlignedBuffer? _buffer;
    private CommandBufferPool? _pool;
    private int _poolSlot;
    private AlignedBuffer? _own;
    private AlignedBuffer? _small;
    private AlignedBuffer? _scratch;

    public NvmeRequest(ushort slot, int maxTransfer, EngineLane? lane = null)
    {
        _lane = lane ?? EngineLane.Unbound;
        Slot = slot;
        _maxTransfer = maxTransfer;
    }

    /// <summary>Index in the queue's command table; also the R2T TTAG and engine user data.</summary>
    public ushort Slot { get; }

    public SubmissionQueueEntry Command;

    public RequestState State;

    /// <summary>Set by parsing: which way data moves and how many bytes (the SGL length).</summary>
    public DataDirection Direction;
    public int DataLength;

    /// <summary>Set by execution: the CQE result and status.</summary>
    public uint Result0;
    public uint Result1;
    public NvmeStatus Status;

    /// <summary>
    /// Stopwatch timestamp of the command's receipt: when the transport got the bytes that carried
    /// it (one reading per batch of received PDUs). Its latency runs from here.
    /// </summary>
    public long ReceivedTimestamp;

    /// <summary>Bytes of host data received so far (in-capsule or H2CData).</summary>
    public int ReceivedLength;

    /// <summary>A failure during data transfer (e.g. a data digest error) to report once the transfer ends.</summary>
    public NvmeStatus TransferStatus;

    /// <summary>State of a multi-step command (DSM ranges, Copy, Compare): which step runs now.</summary>
    public int Step;
    public int RangeIndex;

    /// <summary>Copy: destination blocks written so far (where the next source range lands).</summary>
    public ulong BlocksCopied;

    public Namespace? Namespace;

    /// <summary>The range the running engine request changes (Write, Write Zeroes, Deallocate), or -1.</summary>
    public long ChangedOffset = -1;
    public long ChangedLength;

    /// <summary>
    /// The command data: aligned for the block engine, rented from the queue's engine lane on first
    /// use (registered with its ring where it can be), then reused until the queue closes.
    /// </summary>
    public AlignedBuffer Buffer => _buffer ??= _own ??= _lane.RentBuffer(_maxTransfer);

    /// <summary>Uses the buffer of <paramref name="slot"/> of <paramref name="pool"/> until <see cref="DetachBuffer"/> gives it back.</summary>
    public void AttachPooledBuffer(CommandBufferPool pool, int slot)
    {
        _buffer = pool[slot];
        _pool = pool;
        _poolSlot = slot;
    }

    /// <summary>
    /// Uses this slot's own buffer for in-capsule data of at most <paramref name="length"/> bytes
    /// (8 KiB), made once: a capsule's data is already here and has to go somewhere when the pool has none.
    /// </summary>
    public void AttachInCapsuleBuffer(int length)
    {
        if (_small is null || _small.Length < length)
        {
            _small?.Dispose();
            _small = new AlignedBuffer(length);
        }

        _buffer = _small;
    }

    /// <summary>
    /// The command is done with its data: a pooled buffer goes back to its pool (which may wake a
    /// waiting queue). True when it had one.
    /// </summary>
    public bool DetachBuffer()
    {
        if (_pool is { } pool)
        {
            _buffer = null;
            _pool = null;
            pool.Return(_poolSlot);
            return true;
        }

        if (_buffer is not null && ReferenceEquals(_buffer, _small))
        {
            _buffer = null;
        }

        return false;
    }

    /// <summary>A second buffer for commands that read before they compare or write (Compare, Copy).</summary>
    public AlignedBuffer Scratch => _scratch ??= new AlignedBuffer(_maxTransfer);

    public Span<byte> Data => DataLength == 0 ? [] : Buffer.Span[..DataLength];

    public int MaxTransfer => _maxTransfer;

    public void Reset(in SubmissionQueueEntry command)
    {
        Command = command;
        State = RequestState.Received;
        Direction = DataDirection.None;
        DataLength = 0;
        Result0 = 0;
        Result1 = 0;
        Status = NvmeStatus.Success;
        ReceivedLength = 0;
        TransferStatus = NvmeStatus.Success;
        Step = 0;
        RangeIndex = 0;
        BlocksCopied = 0;
        Namespace = null;
        ChangedOffset = -1;
        ChangedLength = 0;
    }

    public void Dispose()
    {
        DetachBuffer();
        _own?.Dispose();
        _small?.Dispose();
        _scratch?.Dispose();
    }
}
