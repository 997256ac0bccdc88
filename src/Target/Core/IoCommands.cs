using System.Buffers.Binary;
using NovaStor.BlockEngine;
using NovaStor.Protocol;
using NovaStor.Target.Core.Reservations;

namespace NovaStor.Target.Core;

/// <summary>
/// The NVM I/O command set (NVM Command Set 1.0): Read, Write (FUA), Flush, Write Zeroes (DEAC),
/// Dataset Management (deallocate), Copy (format 0) and Compare, as block engine requests. The
/// counterpart of the Linux target's io-cmd-file.c. Multi-step commands (ranges, read-then-compare)
/// advance in <see cref="OnBlockCompleted"/>, which the engine calls with the slot as user data:
/// no allocation and no lock per command.
/// </summary>
internal sealed class IoCommands : IBlockCompletion
{
    private readonly QueueSession queue;

    private readonly ReservationCommands _reservations;

    /// <summary>Copy limits (advertised as MSRC, MSSRL in blocks of a 128 KiB transfer, MCL).</summary>
    public const int MaxCopySourceRanges = 16;
    public const int DsmRangeSize = 16;
    public const int CopyRangeSize = 32;

    private const uint ForceUnitAccessBit = 1u << 30;
    private const uint DeallocateBit = 1u << 25;
    private const uint AttributeDeallocate = 1u << 2;

    private enum Step
    {
        /// <summary>The one engine request of a simple command is running.</summary>
        Single = 0,
        /// <summary>Compare: the stored data is being read into the scratch buffer.</summary>
        CompareRead,
        /// <summary>DSM: range RangeIndex is being deallocated.</summary>
        Deallocate,
        /// <summary>Copy: source range RangeIndex is being read into the scratch buffer.</summary>
        CopyRead,
        /// <summary>Copy: source range RangeIndex is being written at its destination.</summary>
        CopyWrite,
        /// <summary>Verify: chunk RangeIndex of the range is being read into the scratch buffer.</summary>
        VerifyRead,
    }

    public IoCommands(QueueSession queue)
    {
        this.queue = queue;
        _reservations = new ReservationCommands(queue, this);
    }

    public NvmeStatus Parse(NvmeRequest request)
    {
        ref readonly var command = ref request.Command;
        var ns = queue.Controller!.Subsystem.FindNamespace(command.NamespaceId);
        if (ns is null)
        {
            return StatusCodes.InvalidNamespace;
        }

        request.Namespace = ns;

        // The namespace's ANA group on this queue's port: optimized and non-optimized paths serve
        // I/O; the others fail with a path status (no DNR) so a multipath host goes another way.
        var ana = queue.Port.StateOf(ns.AnaGroupId);
        if (ana > AnaState.NonOptimized)
        {
            return ana switch
            {
                AnaState.Inaccessible => StatusCodes.AnaInaccessible,
                AnaState.PersistentLoss => StatusCodes.AnaPersistentLoss,
                _ => StatusCodes.AnaTransition,
            };
        }

        // One field read when no reservation is held (the common case); otherwise the type decides
        // whether this host may read or write (NVMe Base 2.0, "Command Behavior in the Presence of
        // a Reservation"). Checked before any data moves, so a refused write costs no transfer.
        var reservation = ns.Reservations.Current;
        if (reservation.Type != ReservationType.None && ReservationAccess(command.Opcode) is { } writes
            && !reservation.Allows(queue.Controller!.HostId, writes))
        {
            return StatusCodes.ReservationConflict;
        }

        if (ReservationCommands.Handles(command.Opcode))
        {
            return ReservationCommands.Parse(request);
        }

        switch (command.Opcode)
        {
            case IoOpcode.Read:
                return ParseBlockTransfer(request, ns, DataDirection.ControllerToHost);
            case IoOpcode.Write:
            case IoOpcode.Compare:
                return ParseBlockTransfer(request, ns, DataDirection.HostToController);
            case IoOpcode.Flush:
                return QueueSession.ExpectData(request, DataDirection.None, 0);
            case IoOpcode.WriteZeroes:
            case IoOpcode.Verify:
                {
                    var status = CheckRange(command, ns, out _, out _);
                    return status.IsSuccess ? QueueSession.ExpectData(request, DataDirection.None, 0) : status;
                }

            case IoOpcode.DatasetManagement:
                return QueueSession.ExpectDataAtLeast(request, DataDirection.HostToController, DsmRangeCount(command) * DsmRangeSize);
            case IoOpcode.Copy:
                {
                    int ranges = CopyRangeCount(command);
                    if (((command.Cdw12 >> 8) & 0xF) != 0)
                    {
                        return StatusCodes.InvalidField;
                    }

                    if (ranges > MaxCopySourceRanges)
                    {
                        return StatusCodes.CommandSizeLimitExceeded;
                    }

                    return QueueSession.ExpectDataAtLeast(request, DataDirection.HostToController, ranges * CopyRangeSize);
                }

            default:
                return StatusCodes.InvalidOpcode;
        }
    }

    /// <summary>
    /// The read command group (false) and the write command group (true) a reservation governs;
    /// null for commands it does not (the reservation commands themselves).
    /// </summary>
    private static bool? ReservationAccess(byte opcode) => opcode switch
    {
        IoOpcode.Read or IoOpcode.Compare or IoOpcode.Verify => false,
        IoOpcode.Write or IoOpcode.WriteZeroes or IoOpcode.DatasetManagement or IoOpcode.Copy or IoOpcode.Flush => true,
        _ => null,
    };

    public void Execute(NvmeRequest request)
    {
        var ns = request.Namespace!;
        ref readonly var command = ref request.Command;
        request.Step = (int)Step.Single;

        // Checked again now that the data is here: a write parsed before a preemption (its data
        // still on the wire) must not land after the preempting host was told it succeeded.
        var reservation = ns.Reservations.Current;
        if (reservation.Type != ReservationType.None && ReservationAccess(command.Opcode) == true
            && !reservation.Allows(queue.Controller!.HostId, writes: true))
        {
            queue.Complete(request, StatusCodes.ReservationConflict);
            return;
        }

        switch (command.Opcode)
        {
            case var reservationCommand when ReservationCommands.Handles(reservationCommand):
                _reservations.Execute(request);
                break;
            case IoOpcode.Read:
                Submit(request, ns, BlockOperation.Read, BlockOffset(command, ns), request.DataLength, request.Buffer.Address);
                break;
            case IoOpcode.Write:
                {
                    bool fua = (command.Cdw12 & ForceUnitAccessBit) != 0 || !queue.Controller!.VolatileWriteCacheEnabled;
                    Submit(request, ns, BlockOperation.Write, BlockOffset(command, ns), request.DataLength, request.Buffer.Address, fua ? BlockFlags.ForceUnitAccess : BlockFlags.None);
                    break;
                }

            case IoOpcode.Compare:
                request.Step = (int)Step.CompareRead;
                Submit(request, ns, BlockOperation.Read, BlockOffset(command, ns), request.DataLength, request.Scratch.Address);
                break;
            case IoOpcode.Flush:
                Submit(request, ns, BlockOperation.Flush, 0, 0, 0);
                break;
            case IoOpcode.WriteZeroes:
                {
                    long length = (long)((command.Cdw12 & 0xFFFF) + 1) << ns.BlockSizeShift;
                    var operation = (command.Cdw12 & DeallocateBit) != 0 && ns.Volume.DeallocatedReadsZeroes ? BlockOperation.Deallocate : BlockOperation.WriteZeroes;
                    Submit(request, ns, operation, BlockOffset(command, ns), length, 0);
                    break;
                }

            case IoOpcode.DatasetManagement:
                StartDatasetManagement(request, ns);
                break;
            case IoOpcode.Verify:
                request.Step = (int)Step.VerifyRead;
                request.RangeIndex = 0;
                ContinueVerify(request, ns);
                break;
            default:
                StartCopy(request, ns);
                break;
        }
    }

    /// <summary>Engine requests submitted and not yet completed: buffers must outlive them.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    private int _inFlight;
    private Action? _whenIdle;

    /// <summary>
    /// Calls <paramref name="callback"/> once no engine request of this queue is running: now if none
    /// is, else on the thread that completes the last one. For a closing queue (no new commands).
    /// </summary>
    public void NotifyWhenIdle(Action callback)
    {
        Volatile.Write(ref _whenIdle, callback);
        if (Volatile.Read(ref _inFlight) == 0)
        {
            Interlocked.Exchange(ref _whenIdle, null)?.Invoke();
        }
    }

    /// <summary>Work of this queue running off its engine (a reservation command on the thread pool): buffers must outlive it too.</summary>
    public void BeginOffPathWork() => Interlocked.Increment(ref _inFlight);

    public void EndOffPathWork()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _whenIdle) is not null)
        {
            Interlocked.Exchange(ref _whenIdle, null)?.Invoke();
        }
    }

    public void OnBlockCompleted(ulong userData, int error)
    {
        // Counted down only after this request is done with its buffers (a next step counts itself up first).
        try
        {
            Continue(userData, error);
        }
        finally
        {
            if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _whenIdle) is not null)
            {
                Interlocked.Exchange(ref _whenIdle, null)?.Invoke();
            }
        }
    }

    private void Continue(ulong userData, int error)
    {
        var request = queue.Requests[(int)userData];
        if (request is null)
        {
            return;
        }

        var ns = request.Namespace!;
        if (request.ChangedOffset >= 0)
        {
            // Marked once the change reached the volume (failed ones too: part may have landed), so a
            // snapshot-and-clear taken meanwhile never hides it from the next one.
            ns.Changes.MarkWritten(request.ChangedOffset, request.ChangedLength);
            request.ChangedOffset = -1;
        }

        if (error != 0)
        {
            queue.Complete(request, MapError(error, (Step)request.Step, request.Command.Opcode));
            return;
        }

        switch ((Step)request.Step)
        {
            case Step.CompareRead:
                queue.Complete(request, request.Scratch.Span[..request.DataLength].SequenceEqual(request.Data) ? NvmeStatus.Success : StatusCodes.CompareFailure);
                break;
            case Step.Deallocate:
                request.RangeIndex++;
                ContinueDeallocate(request, ns);
                break;
            case Step.CopyRead:
                WriteCopiedRange(request, ns);
                break;
            case Step.CopyWrite:
                request.RangeIndex++;
                ContinueCopy(request, ns);
                break;
            case Step.VerifyRead:
                request.RangeIndex++;
                ContinueVerify(request, ns);
                break;
            default:
                queue.Complete(request, NvmeStatus.Success);
                break;
        }
    }

    /// <summary>
    /// Verify reads the whole range on the engine, one scratch buffer at a time, and returns no data:
    /// the host learns whether the blocks are readable (VSL is 0: no size limit beyond NLB).
    /// </summary>
    private void ContinueVerify(NvmeRequest request, Namespace ns)
    {
        ref readonly var command = ref request.Command;
        long total = (long)((command.Cdw12 & 0xFFFF) + 1) << ns.BlockSizeShift;
        long done = (long)request.RangeIndex * request.MaxTransfer;
        if (done >= total)
        {
            queue.Complete(request, NvmeStatus.Success);
            return;
        }

        int length = (int)Math.Min(request.MaxTransfer, total - done);
        Submit(request, ns, BlockOperation.Read, BlockOffset(command, ns) + done, length, request.Scratch.Address);
    }

    private void StartDatasetManagement(NvmeRequest request, Namespace ns)
    {
        // Without the deallocate attribute the ranges are hints only: nothing to do.
        if ((request.Command.Cdw11 & AttributeDeallocate) == 0)
        {
            queue.Complete(request, NvmeStatus.Success);
            return;
        }

        int ranges = DsmRangeCount(request.Command);
        for (int i = 0; i < ranges; i++)
        {
            ReadDsmRange(request.Data, i, out ulong first, out uint blocks);
            if (blocks != 0 && !ns.Contains(first, blocks))
            {
                queue.Complete(request, StatusCodes.LbaOutOfRange);
                return;
            }
        }

        request.Step = (int)Step.Deallocate;
        request.RangeIndex = 0;
        ContinueDeallocate(request, ns);
    }

    private void ContinueDeallocate(NvmeRequest request, Namespace ns)
    {
        int ranges = DsmRangeCount(request.Command);
        while (request.RangeIndex < ranges)
        {
            ReadDsmRange(request.Data, request.RangeIndex, out ulong first, out uint blocks);
            if (blocks != 0)
            {
                var operation = ns.Volume.DeallocatedReadsZeroes ? BlockOperation.Deallocate : BlockOperation.WriteZeroes;
                Submit(request, ns, operation, (long)(first << ns.BlockSizeShift), (long)blocks << ns.BlockSizeShift, 0);
                return;
            }

            request.RangeIndex++;
        }

        queue.Complete(request, NvmeStatus.Success);
    }

    private void StartCopy(NvmeRequest request, Namespace ns)
    {
        ref readonly var command = ref request.Command;
        ulong destination = command.Cdw10 | ((ulong)command.Cdw11 << 32);
        int ranges = CopyRangeCount(command);
        ulong total = 0;
        ulong maxRangeBlocks = (ulong)(request.MaxTransfer >> ns.BlockSizeShift);
        for (int i = 0; i < ranges; i++)
        {
            ReadCopyRange(request.Data, i, out ulong first, out uint blocks);
            if (blocks > maxRangeBlocks)
            {
                queue.Complete(request, StatusCodes.CommandSizeLimitExceeded);
                return;
            }

            if (!ns.Contains(first, blocks))
            {
                queue.Complete(request, StatusCodes.LbaOutOfRange);
                return;
            }

            total += blocks;
        }

        if (total > maxRangeBlocks * MaxCopySourceRanges)
        {
            queue.Complete(request, StatusCodes.CommandSizeLimitExceeded);
            return;
        }

        if (!ns.Contains(destination, total))
        {
            queue.Complete(request, StatusCodes.LbaOutOfRange);
            return;
        }

        request.BlocksCopied = 0;
        request.RangeIndex = 0;
        ContinueCopy(request, ns);
    }

    private void ContinueCopy(NvmeRequest request, Namespace ns)
    {
        if (request.RangeIndex >= CopyRangeCount(request.Command))
        {
            queue.Complete(request, NvmeStatus.Success);
            return;
        }

        ReadCopyRange(request.Data, request.RangeIndex, out ulong first, out uint blocks);
        request.Step = (int)Step.CopyRead;
        Submit(request, ns, BlockOperation.Read, (long)(first << ns.BlockSizeShift), (long)blocks << ns.BlockSizeShift, request.Scratch.Address);
    }

    private void WriteCopiedRange(NvmeRequest request, Namespace ns)
    {
        ref readonly var command = ref request.Command;
        ulong destination = (command.Cdw10 | ((ulong)command.Cdw11 << 32)) + request.BlocksCopied;
        ReadCopyRange(request.Data, request.RangeIndex, out _, out uint blocks);
        request.BlocksCopied += blocks;
        request.Step = (int)Step.CopyWrite;
        var flags = queue.Controller!.VolatileWriteCacheEnabled ? BlockFlags.None : BlockFlags.ForceUnitAccess;
        Submit(request, ns, BlockOperation.Write, (long)(destination << ns.BlockSizeShift), (long)blocks << ns.BlockSizeShift, request.Scratch.Address, flags);
    }

    private void Submit(NvmeRequest request, Namespace ns, BlockOperation operation, long offset, long length, nint buffer, BlockFlags flags = BlockFlags.None)
    {
        Interlocked.Increment(ref _inFlight);
        request.ChangedOffset = operation is BlockOperation.Write or BlockOperation.WriteZeroes or BlockOperation.Deallocate ? offset : -1;
        request.ChangedLength = length;
        ns.Volume.Submit(new BlockRequest(operation, offset, length, buffer, flags, queue.Lane), this, request.Slot);
    }

    /// <summary>SLBA (CDW10-11) and NLB (CDW12 15:0, 0-based) checked against the namespace.</summary>
    private static NvmeStatus CheckRange(in SubmissionQueueEntry command, Namespace ns, out ulong first, out uint blocks)
    {
        first = command.Cdw10 | ((ulong)command.Cdw11 << 32);
        blocks = (command.Cdw12 & 0xFFFF) + 1;
        return ns.Contains(first, blocks) ? NvmeStatus.Success : StatusCodes.LbaOutOfRange;
    }

    private static NvmeStatus ParseBlockTransfer(NvmeRequest request, Namespace ns, DataDirection direction)
    {
        var status = CheckRange(request.Command, ns, out _, out uint blocks);
        return status.IsSuccess ? QueueSession.ExpectData(request, direction, (long)blocks << ns.BlockSizeShift) : status;
    }

    private static long BlockOffset(in SubmissionQueueEntry command, Namespace ns) =>
        (long)((command.Cdw10 | ((ulong)command.Cdw11 << 32)) << ns.BlockSizeShift);

    /// <summary>NR, CDW10 7:0, 0-based.</summary>
    private static int DsmRangeCount(in SubmissionQueueEntry command) => (int)(command.Cdw10 & 0xFF) + 1;

    /// <summary>NR, CDW12 7:0, 0-based.</summary>
    private static int CopyRangeCount(in SubmissionQueueEntry command) => (int)(command.Cdw12 & 0xFF) + 1;

    /// <summary>DSM range (16 B): context attributes u32 @0, NLB u32 @4 (1-based), SLBA u64 @8.</summary>
    private static void ReadDsmRange(ReadOnlySpan<byte> data, int index, out ulong first, out uint blocks)
    {
        var range = data.Slice(index * DsmRangeSize, DsmRangeSize);
        blocks = BinaryPrimitives.ReadUInt32LittleEndian(range[4..]);
        first = BinaryPrimitives.ReadUInt64LittleEndian(range[8..]);
    }

    /// <summary>Copy source range, format 0 (32 B): SLBA u64 @8, NLB u16 @16 (0-based).</summary>
    private static void ReadCopyRange(ReadOnlySpan<byte> data, int index, out ulong first, out uint blocks)
    {
        var range = data.Slice(index * CopyRangeSize, CopyRangeSize);
        first = BinaryPrimitives.ReadUInt64LittleEndian(range[8..]);
        blocks = (uint)BinaryPrimitives.ReadUInt16LittleEndian(range[16..]) + 1;
    }

    /// <summary>An engine errno as the NVMe status a host can act on.</summary>
    private static NvmeStatus MapError(int error, Step step, byte opcode) => error switch
    {
        Errno.ERANGE => StatusCodes.LbaOutOfRange,
        Errno.ENOSPC => StatusCodes.CapacityExceeded,
        Errno.EINVAL => StatusCodes.InvalidField,
        Errno.EIO when opcode == IoOpcode.Read || step is Step.CompareRead or Step.CopyRead or Step.VerifyRead => StatusCodes.UnrecoveredReadError,
        Errno.EIO => StatusCodes.WriteFault,
        _ => StatusCodes.InternalError,
    };

    /// <summary>MSSRL in blocks for a namespace: one source range fits one transfer buffer.</summary>
    public static ushort MaxSingleSourceRangeLength(int maxTransfer, Namespace ns) => (ushort)Math.Min(ushort.MaxValue, maxTransfer >> ns.BlockSizeShift);
}
