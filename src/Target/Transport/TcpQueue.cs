using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Protocol;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>
/// One NVMe/TCP connection, carrying one queue. Two loops own it:
/// the receive loop (Kestrel's thread) frames PDUs, moves host data into command buffers and hands
/// commands to the <see cref="QueueSession"/>; the send loop is the only writer of the output pipe,
/// so completions arriving from engine threads, R2Ts and data never interleave mid-PDU.
/// A transport error ends only this connection: C2HTermReq, then close.
/// </summary>
internal sealed partial class TcpQueue : IQueueTransport
{
    private readonly ConnectionContext _connection;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly ILogger _logger;
    private readonly TargetLimits _limits;
    private readonly RequestTable _requests;
    private readonly QueueSession _session;
    private readonly Channel<Outgoing> _outgoing = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions
    {
        SingleReader = true,
        SingleWriter = false,
        AllowSynchronousContinuations = false,
    });

    /// <summary>Header scratch for the framer: one per connection, reused for every PDU.</summary>
    private readonly byte[] _header = new byte[PduFramer.MaxHeaderLength];

    private PduFramingRules _rules = PduFramingRules.BeforeInitialization(PduReceiver.Controller);
    private bool _headerDigest;
    private bool _dataDigest;
    private string? _disconnectReason;

    public TcpQueue(ConnectionContext connection, SubsystemRegistry registry, TargetLimits limits, TimeProvider time, ILogger logger, EngineLane? lane = null)
    {
        _connection = connection;
        _input = connection.Transport.Input;
        _output = connection.Transport.Output;
        _logger = logger;
        _limits = limits;
        RemoteEndPoint = connection.RemoteEndPoint?.ToString() ?? "unknown";
        _requests = new RequestTable(Math.Max(limits.MaxQueueEntries, limits.MaxAdminQueueEntries), limits.MaxTransferBytes, lane);
        _session = new QueueSession(registry, this, ListenerOf(connection), _requests, limits, time, logger);
    }

    public string RemoteEndPoint { get; }

    private enum OutgoingKind : byte
    {
        ReadyToTransfer,
        Completion,
    }

    private readonly record struct Outgoing(NvmeRequest Request, OutgoingKind Kind);

    /// <summary>Runs the connection until the peer leaves, a fatal error, or a disconnect.</summary>
    public async Task RunAsync()
    {
        // When the target stops, Kestrel asks each connection to close and waits for it until the
        // host's shutdown timeout, then aborts. An NVMe/TCP queue has no graceful close of its own
        // and would otherwise sit in ReadAsync, holding every stop up for the whole timeout: end it
        // now (the host sees the connection drop and reconnects, as after any target restart).
        var closeRequested = _connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        using var stopping = closeRequested.Register(static state => ((TcpQueue)state!).Disconnect("target stopping"), this);
        Task sender = Task.CompletedTask;
        try
        {
            if (!await InitializeAsync().ConfigureAwait(false))
            {
                return;
            }

            sender = Task.Run(SendLoopAsync);
            var error = await ReceiveLoopAsync().ConfigureAwait(false);
            if (error is { } fatal)
            {
                await TerminateAsync(fatal.Error, fatal.OffendingHeader, sender).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException)
        {
            // The peer went away or the connection was aborted (disconnect, keep-alive expiry).
        }
        catch (Exception ex)
        {
            // A bug of ours must not take the process down: log it and end this connection only.
            Log.QueueFailed(_logger, ex, _session.QueueId, _session.ControllerIdForLog, RemoteEndPoint);
        }
        finally
        {
            await CloseAsync(sender).ConfigureAwait(false);
        }
    }

    public void Complete(NvmeRequest request)
    {
        request.State = RequestState.Completing;
        if (!_outgoing.Writer.TryWrite(new Outgoing(request, OutgoingKind.Completion)))
        {
            // The connection is closing: nothing will be sent, the slot is simply freed.
            Release(request);
        }
    }

    public void Disconnect(string reason)
    {
        Interlocked.CompareExchange(ref _disconnectReason, reason, null);
        _connection.Abort(new ConnectionAbortedException(reason));
    }

    private async Task<bool> InitializeAsync()
    {
        while (true)
        {
            var result = await _input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = PduFramer.TryFrame(buffer, _rules, _header, out var frame, out var error);
            if (status == FrameStatus.Complete)
            {
                var request = InitializeConnectionRequest.Read(_header);
                var problem = CheckInitializeRequest(request);
                if (problem is { } fatal)
                {
                    _input.AdvanceTo(buffer.Start);
                    await WriteTerminationAsync(fatal, _header.AsMemory(0, PduSizes.InitializeConnection)).ConfigureAwait(false);
                    return false;
                }

                _input.AdvanceTo(buffer.GetPosition(frame.Length));
                _headerDigest = (request.Digests & DigestOptions.Header) != 0;
                _dataDigest = (request.Digests & DigestOptions.Data) != 0;
                _rules = new PduFramingRules(PduReceiver.Controller, true, _headerDigest, _dataDigest,
                    (uint)Math.Max(_limits.InCapsuleDataSize, _limits.AdminInCapsuleDataSize), (uint)_limits.MaxH2CData);

                var response = new InitializeConnectionResponse(0, 0, request.Digests & (DigestOptions.Header | DigestOptions.Data), (uint)_limits.MaxH2CData);
                response.WriteTo(_output.GetSpan(PduSizes.InitializeConnection));
                _output.Advance(PduSizes.InitializeConnection);
                await _output.FlushAsync().ConfigureAwait(false);
                Log.ConnectionInitialized(_logger, RemoteEndPoint, _headerDigest, _dataDigest);
                return true;
            }

            if (status == FrameStatus.Fatal)
            {
                var header = CopyHeader(buffer);
                _input.AdvanceTo(buffer.Start);
                await WriteTerminationAsync(error, header).ConfigureAwait(false);
                return false;
            }

            if (result.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                return false;
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
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

    private readonly record struct FatalPdu(TransportError Error, ReadOnlyMemory<byte> OffendingHeader);

    /// <summary>Frames and handles PDUs until the peer closes (null) or a fatal transport error.</summary>
    private async Task<FatalPdu?> ReceiveLoopAsync()
    {
        while (true)
        {
            var result = await _input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            while (true)
            {
                var status = PduFramer.TryFrame(buffer, _rules, _header, out var frame, out var error);
                if (status == FrameStatus.Incomplete)
                {
                    break;
                }

                if (status == FrameStatus.Complete)
                {
                    status = Handle(frame, buffer.Slice(0, frame.Length), out error);
                }

                if (status == FrameStatus.Fatal)
                {
                    var header = CopyHeader(buffer);
                    _input.AdvanceTo(buffer.Start);
                    return new FatalPdu(error, header);
                }

                buffer = buffer.Slice(frame.Length);
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return null;
            }
        }
    }

    /// <summary>Handles one whole PDU. Returns Fatal with the error to end the connection.</summary>
    private FrameStatus Handle(in PduFrame frame, in ReadOnlySequence<byte> pdu, out TransportError error)
    {
        error = default;
        switch (frame.Type)
        {
            case PduType.CapsuleCommand:
                return HandleCommand(frame, pdu, out error);
            case PduType.HostToControllerData:
                return HandleData(frame, pdu, out error);
            case PduType.HostToControllerTerminationRequest:
                {
                    var termination = TerminationRequest.Read(_header);
                    Log.HostTerminated(_logger, _session.QueueId, _session.ControllerIdForLog, RemoteEndPoint, termination.Status, termination.ErrorInformation);
                    Disconnect("host sent H2CTermReq");
                    return FrameStatus.Complete;
                }

            default:
                error = new TransportError(FatalErrorStatus.PduSequenceError, 0, $"unexpected {frame.Type}");
                return FrameStatus.Fatal;
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

    private static ListenerInfo ListenerOf(ConnectionContext connection) => connection.LocalEndPoint switch
    {
        System.Net.IPEndPoint ip => new ListenerInfo(
            (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address).ToString(),
            ip.Port,
            ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !ip.Address.IsIPv4MappedToIPv6),
        _ => new ListenerInfo("127.0.0.1", 4420, false),
    };
}
