using System.Buffers;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Protocol;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>
/// One NVMe/TCP connection carrying one queue, whatever moves its bytes: the PDU rules (ICReq,
/// CapsuleCmd, H2CData, H2CTermReq), the command slots, the hand-off to the controller code
/// (<see cref="QueueSession"/>, which never sees a socket) and the bytes of every response. The
/// two transports derive from it: <see cref="ReactorQueue"/> (one io_uring reactor thread does the
/// connection's whole work) and <see cref="PipeQueue"/> (Kestrel's socket transport and pipes,
/// where io_uring is refused).
/// </summary>
/// <remarks>
/// <para><b>Threads.</b> <see cref="ProcessReceived"/> runs on the transport's receive thread (the
/// reactor; or Kestrel's socket thread for the pipe transport), one call at a time. The derived
/// class says which thread writes responses; <see cref="IQueueTransport.Complete"/> may be called
/// from any thread, once per command.</para>
/// <para><b>Outstanding commands.</b> A host may have at most as many commands outstanding as the
/// queue holds. A command counts from its CapsuleCmd until its response is written; one more is a
/// fatal PDU sequence error.</para>
/// </remarks>
internal abstract class NvmeTcpQueue : IQueueTransport
{
    /// <summary>Header scratch for the framer: one per connection, reused for every PDU.</summary>
    private readonly byte[] _header = new byte[PduFramer.MaxHeaderLength];
    private readonly int _commandLimit;
    private PduFramingRules _rules = PduFramingRules.BeforeInitialization(PduReceiver.Controller);
    private int _outstanding;
    private string? _disconnectReason;
    // Closes a connection that sends no ICReq, then no Connect, in time (null once connected or closed).
    private ITimer? _connectDeadline;
    private volatile bool _initialized;
    // When the bytes being handled were received: every command framed from them was received then.
    private long _receivedTimestamp;

    /// <param name="tableSlots">Command slots: at least <see cref="TargetLimits.MaxQueueEntries"/>; a
    /// transport that keeps a slot after its response was written (until the bytes left) needs more.</param>
    protected NvmeTcpQueue(SubsystemRegistry registry, TargetLimits limits, TimeProvider time, ILogger logger, EngineLane? lane,
        EndPoint? localEndPoint, string remoteEndPoint, int tableSlots)
    {
        Logger = logger;
        Limits = limits;
        RemoteEndPoint = remoteEndPoint;
        _commandLimit = Math.Max(limits.MaxQueueEntries, limits.MaxAdminQueueEntries);
        Requests = new RequestTable(Math.Max(tableSlots, _commandLimit), limits.MaxTransferBytes, lane);
        Session = new QueueSession(registry, this, ListenerOf(localEndPoint, registry.PortOf(localEndPoint)), Requests, limits, time, logger);
        _connectDeadline = time.CreateTimer(static state => ((NvmeTcpQueue)state!).ConnectDeadlinePassed(), this, limits.ConnectTimeout, Timeout.InfiniteTimeSpan);
    }

    public string RemoteEndPoint { get; }

    protected ILogger Logger { get; }

    protected TargetLimits Limits { get; }

    protected RequestTable Requests { get; }

    protected QueueSession Session { get; }

    /// <summary>Negotiated in ICReq/ICResp.</summary>
    protected bool HeaderDigest { get; private set; }

    protected bool DataDigest { get; private set; }

    /// <summary>Why the connection was asked to close, if it was (first reason wins).</summary>
    protected string? DisconnectReason => Volatile.Read(ref _disconnectReason);

    public abstract void Complete(NvmeRequest request);

    public abstract void Disconnect(string reason);

    /// <summary>Records the first reason given for closing.</summary>
    protected void SetDisconnectReason(string reason) => Interlocked.CompareExchange(ref _disconnectReason, reason, null);

    /// <summary>Queues ICResp; the receive thread calls it once.</summary>
    protected abstract void SendInitializeResponse(in InitializeConnectionResponse response);

    /// <summary>Queues an R2T for the whole transfer of <paramref name="request"/>; on the receive thread.</summary>
    protected abstract void SendReadyToTransfer(NvmeRequest request);

    /// <summary>
    /// Frames and handles the whole PDUs at the start of <paramref name="buffer"/>. Returns the bytes
    /// they took (the rest is an incomplete PDU to keep), or a fatal error: <paramref name="fatal"/>
    /// then holds the error and the offending header to echo in the C2HTermReq, and the bytes before
    /// the offending PDU were consumed.
    /// </summary>
    protected long ProcessReceived(in ReadOnlySequence<byte> buffer, out FatalPdu? fatal)
    {
        fatal = null;
        _receivedTimestamp = Stopwatch.GetTimestamp();
        var remaining = buffer;
        while (true)
        {
            var status = PduFramer.TryFrame(remaining, _rules, _header, out var frame, out var error);
            if (status == FrameStatus.Incomplete)
            {
                break;
            }

            if (status == FrameStatus.Complete)
            {
                status = Handle(frame, remaining.Slice(0, frame.Length), out error);
            }

            if (status == FrameStatus.Fatal)
            {
                fatal = new FatalPdu(error, CopyHeader(remaining));
                break;
            }

            remaining = remaining.Slice(frame.Length);
        }

        return buffer.Length - remaining.Length;
    }

    /// <summary>A command's response is being written: it no longer counts against the host's queue.</summary>
    protected void ResponseWritten() => Interlocked.Decrement(ref _outstanding);

    /// <summary>True when a successful read-like command sends C2HData before its CapsuleResp.</summary>
    protected static bool SendsData(NvmeRequest request) => request.Direction == DataDirection.ControllerToHost && request.Status.IsSuccess;

    /// <summary>
    /// True when a read that succeeded ends with its C2HData, flagged SUCCESS, and no CapsuleResp:
    /// only where the host disabled SQ flow control in its Connect (CATTR bit 2; it then needs no
    /// SQHD), and only when the completion would carry nothing else (DW0 and DW1 zero, as the host
    /// assumes for a SUCCESS-flagged command). nvmet does the same, and SPDK has it as its
    /// c2h_success option (also only with DW0 zero); it saves a PDU per read.
    /// </summary>
    private bool CompletesWithData(NvmeRequest request) => Session.SqFlowControlDisabled && request.Result0 == 0 && request.Result1 == 0;

    /// <summary>The C2HData header (one PDU with all the data, as the Linux target and SPDK send it).</summary>
    private int WriteDataHeader(Span<byte> destination, NvmeRequest request, bool success)
    {
        var transfer = new DataTransferHeader(request.Command.CommandId, 0, 0, (uint)request.DataLength);
        return PduWriter.WriteDataHeader(destination, PduType.ControllerToHostData, transfer, last: true, success, HeaderDigest, DataDigest);
    }

    /// <summary>The CapsuleResp of a completed command.</summary>
    protected int WriteCapsuleResponse(Span<byte> destination, NvmeRequest request)
    {
        var completion = new CompletionQueueEntry(request.Result0, request.Result1, Session.SubmissionQueueHeadFor(request.Command), Session.QueueId, request.Command.CommandId, request.Status);
        return PduWriter.WriteCapsuleResponse(destination, completion, HeaderDigest);
    }

    protected int WriteReadyToTransfer(Span<byte> destination, NvmeRequest request)
    {
        var transfer = new DataTransferHeader(request.Command.CommandId, request.Slot, 0, (uint)request.DataLength);
        return PduWriter.WriteReadyToTransfer(destination, transfer, HeaderDigest);
    }

    /// <summary>C2HTermReq with the offending header (at most 128 bytes of it).</summary>
    protected int WriteTermination(Span<byte> destination, in TransportError error, ReadOnlySpan<byte> offendingHeader)
    {
        Log.FatalTransportError(Logger, Session.QueueId, Session.ControllerIdForLog, RemoteEndPoint, error.Status, error.Information, error.Reason);
        var termination = new TerminationRequest(PduType.ControllerToHostTerminationRequest, error.Status, error.Information);
        return termination.WriteTo(destination, offendingHeader);
    }

    /// <summary>Returns a slot to the table once nothing refers to its buffer any more.</summary>
    protected void Release(NvmeRequest request)
    {
        request.State = RequestState.Free;
        if (request.DetachBuffer())
        {
            PooledBufferReturned();
        }

        Requests.Return(request);
    }

    /// <summary>A command of this queue gave its pooled buffer back (on the thread that released it).</summary>
    protected virtual void PooledBufferReturned()
    {
    }

    /// <summary>
    /// Adds a completed command's response to <paramref name="batch"/>: C2HData (header, the data
    /// referenced in the command's buffer, its digest) when a read succeeded, then CapsuleResp unless
    /// the C2HData's SUCCESS flag completes the command (<see cref="CompletesWithData"/>). The
    /// batch holds the command until it has been sent or copied out. Both transports call this one
    /// response at a time (on the reactor, or under the output lock), which makes it the place where
    /// the queue's statistics count the command without a lock of their own.
    /// </summary>
    protected void WriteResponse(OutputBatch batch, NvmeRequest request)
    {
        request.State = RequestState.Completing;
        Session.CountCompletion(request);
        bool responseInData = false;
        if (SendsData(request))
        {
            responseInData = CompletesWithData(request);
            batch.Commit(WriteDataHeader(batch.Reserve(PduWriter.MaxHeaderWithDigest), request, responseInData));
            batch.AddExternal(request.Buffer.Address, request.DataLength);
            if (DataDigest)
            {
                PduWriter.WriteDataDigest(batch.Reserve(PduSizes.Digest), request.Data);
                batch.Commit(PduSizes.Digest);
            }
        }

        if (!responseInData)
        {
            batch.Commit(WriteCapsuleResponse(batch.Reserve(PduWriter.MaxHeaderWithDigest), request));
        }

        batch.Hold(request);
    }

    /// <summary>Returns the slots of the commands <paramref name="batch"/> held and empties it.</summary>
    protected void ReleaseHeld(OutputBatch batch)
    {
        foreach (var request in batch.Held)
        {
            Release(request);
        }

        batch.Reset();
    }

    /// <summary>The connection is gone: no deadline runs for it any more, and the log says why it ended.</summary>
    protected void Closed()
    {
        Interlocked.Exchange(ref _connectDeadline, null)?.Dispose();
        Log.QueueClosed(Logger, Session.QueueId, Session.ControllerIdForLog, RemoteEndPoint, DisconnectReason ?? "connection closed");
    }

    /// <summary>ICReq arrived: the Connect now has its own <see cref="TargetLimits.ConnectTimeout"/>.</summary>
    private void RestartConnectDeadline() => Volatile.Read(ref _connectDeadline)?.Change(Limits.ConnectTimeout, Timeout.InfiniteTimeSpan);

    /// <summary>A timer thread: the host has not sent ICReq, or Connect after it, in time.</summary>
    private void ConnectDeadlinePassed()
    {
        if (Session.Controller is not null || Volatile.Read(ref _connectDeadline) is null)
        {
            return;
        }

        string reason = _initialized
            ? $"no Connect within {Limits.ConnectTimeout.TotalSeconds:0} s of ICResp"
            : $"no ICReq within {Limits.ConnectTimeout.TotalSeconds:0} s of the connection";
        Log.ConnectTimedOut(Logger, RemoteEndPoint, reason);
        Disconnect(reason);
    }

    private FrameStatus Handle(in PduFrame frame, in ReadOnlySequence<byte> pdu, out TransportError error)
    {
        error = default;
        switch (frame.Type)
        {
            case PduType.InitializeConnectionRequest:
                return HandleInitialize(out error);
            case PduType.CapsuleCommand:
                return HandleCommand(frame, pdu, out error);
            case PduType.HostToControllerData:
                return HandleData(frame, pdu, out error);
            case PduType.HostToControllerTerminationRequest:
                {
                    var termination = TerminationRequest.Read(_header);
                    Log.HostTerminated(Logger, Session.QueueId, Session.ControllerIdForLog, RemoteEndPoint, termination.Status, termination.ErrorInformation);
                    Disconnect("host sent H2CTermReq");
                    return FrameStatus.Complete;
                }

            default:
                error = new TransportError(FatalErrorStatus.PduSequenceError, 0, $"unexpected {frame.Type}");
                return FrameStatus.Fatal;
        }
    }

    private FrameStatus HandleInitialize(out TransportError error)
    {
        var request = InitializeConnectionRequest.Read(_header);
        if (CheckInitializeRequest(request) is { } problem)
        {
            error = problem;
            return FrameStatus.Fatal;
        }

        error = default;
        HeaderDigest = (request.Digests & DigestOptions.Header) != 0;
        DataDigest = (request.Digests & DigestOptions.Data) != 0;
        _rules = new PduFramingRules(PduReceiver.Controller, true, HeaderDigest, DataDigest,
            (uint)Math.Max(Limits.InCapsuleDataSize, Limits.AdminInCapsuleDataSize), (uint)Limits.MaxH2CData);
        _initialized = true;
        RestartConnectDeadline();
        SendInitializeResponse(new InitializeConnectionResponse(0, 0, request.Digests & (DigestOptions.Header | DigestOptions.Data), (uint)Limits.MaxH2CData));
        Log.ConnectionInitialized(Logger, RemoteEndPoint, HeaderDigest, DataDigest);
        return FrameStatus.Complete;
    }

    private static TransportError? CheckInitializeRequest(in InitializeConnectionRequest request)
    {
        if (request.FormatVersion != 0)
        {
            return new TransportError(FatalErrorStatus.InvalidHeaderField, InitializeConnectionRequest.FormatVersionOffset, $"PFV {request.FormatVersion}, only 0 is defined");
        }

        if (request.HostDataAlignment > 31)
        {
            return new TransportError(FatalErrorStatus.InvalidHeaderField, InitializeConnectionRequest.HostDataAlignmentOffset, $"HPDA {request.HostDataAlignment} above 31");
        }

        if (((byte)request.Digests & ~3) != 0)
        {
            return new TransportError(FatalErrorStatus.InvalidHeaderField, InitializeConnectionRequest.DigestOffset, $"DGST 0x{(byte)request.Digests:X2} has reserved bits");
        }

        return null;
    }

    private FrameStatus HandleCommand(in PduFrame frame, in ReadOnlySequence<byte> pdu, out TransportError error)
    {
        error = default;
        var command = SubmissionQueueEntry.Read(_header.AsSpan(PduSizes.CommonHeader, PduSizes.SubmissionQueueEntry));
        // Once connected, the queue holds what its host asked for: SQSIZE + 1 entries (0-based SQSIZE,
        // as the Linux host sizes its tag set); before that, what the table can.
        int limit = Session.Controller is null ? _commandLimit : Session.SubmissionQueueSize + 1;
        var request = Volatile.Read(ref _outstanding) < limit ? Requests.Rent() : null;
        if (request is null)
        {
            // The host has more commands outstanding than the queue it connected can hold.
            error = new TransportError(FatalErrorStatus.PduSequenceError, 0, $"more than {limit} commands outstanding");
            return FrameStatus.Fatal;
        }

        Interlocked.Increment(ref _outstanding);
        request.Reset(command);
        request.ReceivedTimestamp = _receivedTimestamp;
        Session.CommandFetched();

        var status = Session.Parse(request);
        if (status.IsSuccess)
        {
            status = CheckDataDescriptor(request, frame.DataLength);
        }

        if (status.IsSuccess && !frame.DataDigestValid)
        {
            Log.DataDigestError(Logger, Session.QueueId, Session.ControllerIdForLog, command.CommandId);
            status = StatusCodes.DataTransferError;
        }

        if (!status.IsSuccess)
        {
            LogCommandError(request, status);
            Session.Complete(request, status);
            return FrameStatus.Complete;
        }

        if (request.Direction != DataDirection.None && !AcquireBuffer(request, frame.DataLength > 0))
        {
            // No data buffer free on this reactor: the command waits (ContinueCommand runs it when one is).
            return FrameStatus.Complete;
        }

        if (frame.DataLength > 0)
        {
            pdu.Slice(frame.DataOffset, frame.DataLength).CopyTo(request.Buffer.Span);
            request.ReceivedLength = frame.DataLength;
        }

        ContinueCommand(request);
        return FrameStatus.Complete;
    }

    /// <summary>
    /// Gives a command that moves data its buffer. True when it has one and goes on; false when it
    /// waits for one (never for in-capsule data, which is already here). Transports without a pool
    /// use each slot's own buffer.
    /// </summary>
    protected virtual bool AcquireBuffer(NvmeRequest request, bool inCapsuleData) => true;

    /// <summary>A parsed command with its buffer (and its in-capsule data): asks for its data with R2T, or runs.</summary>
    protected void ContinueCommand(NvmeRequest request)
    {
        if (request.Direction == DataDirection.HostToController && request.ReceivedLength < request.DataLength)
        {
            request.State = RequestState.AwaitingData;
            SendReadyToTransfer(request);
            return;
        }

        request.State = RequestState.Executing;
        Session.Execute(request);
    }

    /// <summary>
    /// The SGL must say where the data is: in the capsule (data block, offset subtype, offset 0,
    /// exactly the capsule's data) or moved by the transport (transport data block).
    /// </summary>
    private static NvmeStatus CheckDataDescriptor(NvmeRequest request, int inCapsuleLength)
    {
        var sgl = request.Command.Sgl;
        if (request.Direction == DataDirection.None)
        {
            return inCapsuleLength == 0 ? NvmeStatus.Success : StatusCodes.SglDataLengthInvalid;
        }

        if (inCapsuleLength > 0)
        {
            if (request.Direction != DataDirection.HostToController)
            {
                return StatusCodes.InvalidField;
            }

            if (sgl.Identifier != SglDescriptor.DataBlockOffset)
            {
                return StatusCodes.SglDescriptorTypeInvalid;
            }

            if (sgl.Address != 0)
            {
                return StatusCodes.SglOffsetInvalid;
            }

            return inCapsuleLength == request.DataLength ? NvmeStatus.Success : StatusCodes.SglDataLengthInvalid;
        }

        return sgl.Identifier == SglDescriptor.TransportDataBlock ? NvmeStatus.Success : StatusCodes.SglDescriptorTypeInvalid;
    }

    private FrameStatus HandleData(in PduFrame frame, in ReadOnlySequence<byte> pdu, out TransportError error)
    {
        var transfer = DataTransferHeader.Read(_header);
        if (CheckDataTransfer(transfer, out error) is not { } request)
        {
            return FrameStatus.Fatal;
        }

        pdu.Slice(frame.DataOffset, frame.DataLength).CopyTo(request.Buffer.Span[request.ReceivedLength..]);
        DataReceived(request, frame.DataLength, frame.DataDigestValid);
        return FrameStatus.Complete;
    }

    /// <summary>
    /// For a transport that receives a large H2CData payload straight into the command's buffer: if
    /// <paramref name="buffer"/> starts with the whole header of an H2CData PDU, checks it as a whole
    /// PDU would be checked and says where its data goes (<see cref="DirectData"/>); Incomplete
    /// until the header is there, or when the PDU is not H2CData; Fatal for a PDU to terminate on.
    /// </summary>
    protected FrameStatus TryBeginDirectData(in ReadOnlySequence<byte> buffer, out DirectData direct, out FatalPdu? fatal)
    {
        direct = default;
        fatal = null;
        var status = PduFramer.TryFrameHeader(buffer, _rules, _header, out var frame, out var error, out bool dataDigest);
        if (status == FrameStatus.Complete)
        {
            if (frame.Type != PduType.HostToControllerData)
            {
                return FrameStatus.Incomplete;
            }

            var transfer = DataTransferHeader.Read(_header);
            if (CheckDataTransfer(transfer, out error) is { } request)
            {
                direct = new DirectData(request, frame.DataOffset, frame.DataLength, dataDigest);
                return FrameStatus.Complete;
            }

            status = FrameStatus.Fatal;
        }

        if (status == FrameStatus.Fatal)
        {
            fatal = new FatalPdu(error, CopyHeader(buffer));
        }

        return status;
    }

    /// <summary>
    /// The data of an H2CData PDU is in the command's buffer (copied by <see cref="HandleData"/>, or
    /// received there directly): counts it, and runs the command once its whole transfer is in.
    /// </summary>
    protected void DataReceived(NvmeRequest request, int length, bool dataDigestValid)
    {
        request.ReceivedLength += length;
        if (!dataDigestValid)
        {
            Log.DataDigestError(Logger, Session.QueueId, Session.ControllerIdForLog, request.Command.CommandId);
            request.TransferStatus = StatusCodes.DataTransferError;
        }

        if (request.ReceivedLength < request.DataLength)
        {
            return;
        }

        if (!request.TransferStatus.IsSuccess)
        {
            Session.Complete(request, request.TransferStatus);
            return;
        }

        request.State = RequestState.Executing;
        Session.Execute(request);
    }

    /// <summary>The command an H2CData PDU belongs to, if it may carry this data now (else the fatal error).</summary>
    private NvmeRequest? CheckDataTransfer(in DataTransferHeader transfer, out TransportError error)
    {
        error = default;
        var request = Requests[transfer.TransferTag];
        if (request is null || request.State != RequestState.AwaitingData)
        {
            error = new TransportError(FatalErrorStatus.InvalidHeaderField, DataTransferHeader.TransferTagOffset, $"TTAG {transfer.TransferTag} names no pending R2T");
            return null;
        }

        if (request.Command.CommandId != transfer.CommandId)
        {
            error = new TransportError(FatalErrorStatus.InvalidHeaderField, DataTransferHeader.CommandIdOffset, $"CCCID {transfer.CommandId} does not match TTAG {transfer.TransferTag}");
            return null;
        }

        // Data arrives in order and never beyond what the R2T asked for.
        if (transfer.DataOffset != (uint)request.ReceivedLength || transfer.DataOffset + (ulong)transfer.DataLength > (ulong)request.DataLength)
        {
            error = new TransportError(FatalErrorStatus.DataTransferOutOfRange, transfer.DataOffset,
                $"H2CData DATAO {transfer.DataOffset} DATAL {transfer.DataLength}, expected offset {request.ReceivedLength} of {request.DataLength}");
            return null;
        }

        return request;
    }

    private void LogCommandError(NvmeRequest request, NvmeStatus status)
    {
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            Log.CommandRejected(Logger, Session.QueueId, Session.ControllerIdForLog, request.Command.CommandId, request.Command.Opcode, status.ToString());
        }
    }

    private static byte[] CopyHeader(in ReadOnlySequence<byte> buffer)
    {
        // The offending header echoed in a termination request: at most 128 bytes of it.
        int length = (int)Math.Min(buffer.Length, PduSizes.TerminationRequestMax - PduSizes.TerminationRequestHeader);
        if (length >= PduSizes.CommonHeader)
        {
            var common = new byte[PduSizes.CommonHeader];
            buffer.Slice(0, PduSizes.CommonHeader).CopyTo(common);
            length = Math.Min(length, Math.Max(PduSizes.CommonHeader, (int)common[2]));
        }

        return buffer.Slice(0, length).ToArray();
    }

    private static ListenerInfo ListenerOf(EndPoint? localEndPoint, TargetPort port) => localEndPoint switch
    {
        IPEndPoint ip => new ListenerInfo(
            (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString(),
            ip.Port,
            ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !ip.Address.IsIPv4MappedToIPv6,
            port.Id),
        _ => new ListenerInfo("127.0.0.1", 4420, false, port.Id),
    };
}

/// <summary>A fatal transport error and the header of the PDU that caused it.</summary>
internal readonly record struct FatalPdu(TransportError Error, byte[] OffendingHeader);

/// <summary>
/// An H2CData PDU whose header has been checked: its data goes to <see cref="Request"/>'s buffer at
/// its ReceivedLength. <see cref="DataOffset"/> is where the data starts in the PDU (PDO); a data
/// digest follows the data when <see cref="HasDigest"/>.
/// </summary>
internal readonly record struct DirectData(NvmeRequest Request, int DataOffset, int DataLength, bool HasDigest);
