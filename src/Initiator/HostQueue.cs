using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>Options of one queue's connection.</summary>
public sealed record HostQueueOptions
{
    public bool HeaderDigest { get; init; }
    public bool DataDigest { get; init; }

    /// <summary>Largest write carried in the capsule; larger writes wait for R2T.</summary>
    public int InCapsuleDataLimit { get; init; } = 8192;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// One NVMe/TCP queue from the host side: a TCP connection, ICReq/ICResp, then commands with
/// any number outstanding, matched to responses by CID. Writes go in-capsule up to the limit,
/// otherwise by R2T/H2CData; reads arrive by C2HData. A transport error fails every pending
/// command with <see cref="NvmeTransportException"/>.
/// </summary>
public sealed class HostQueue : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Dictionary<ushort, Pending> _pending = [];
    private readonly Lock _pendingLock = new();
    private readonly HostQueueOptions _options;
    private readonly byte[] _header = new byte[PduFramer.MaxHeaderLength];
    private Task _receiver = Task.CompletedTask;
    private PduFramingRules _rules = PduFramingRules.BeforeInitialization(PduReceiver.Host);
    private ushort _nextCommandId;
    private Exception? _failure;

    private HostQueue(Socket socket, HostQueueOptions options)
    {
        _socket = socket;
        _options = options;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024));
    }

    /// <summary>MAXH2CDATA the controller announced in ICResp.</summary>
    public uint MaxH2CData { get; private set; }

    /// <summary>Set when the connection failed (termination request, closed socket).</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    private sealed class Pending(ushort commandId, ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn)
    {
        public ushort CommandId { get; } = commandId;
        public ReadOnlyMemory<byte> DataOut { get; } = dataOut;
        public Memory<byte> DataIn { get; } = dataIn;
        public int Received;
        public TaskCompletionSource<CompletionQueueEntry> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Connects and initializes the connection (ICReq/ICResp).</summary>
    public static async Task<HostQueue> ConnectAsync(EndPoint endPoint, HostQueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new HostQueueOptions();
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        try
        {
            await socket.ConnectAsync(endPoint, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var queue = new HostQueue(socket, options);
        try
        {
            await queue.InitializeAsync(timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            await queue.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        queue._receiver = Task.Run(queue.ReceiveLoopAsync, CancellationToken.None);
        return queue;
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var digests = (_options.HeaderDigest ? DigestOptions.Header : DigestOptions.None) | (_options.DataDigest ? DigestOptions.Data : DigestOptions.None);
        var request = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionRequest(0, 0, digests, 0).WriteTo(request);
        await _stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);

        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = PduFramer.TryFrame(buffer, _rules, _header, out var frame, out var error);
            if (status == FrameStatus.Complete)
            {
                _input.AdvanceTo(buffer.GetPosition(frame.Length));
                if (frame.Type != PduType.InitializeConnectionResponse)
                {
                    throw new NvmeTransportException($"expected ICResp, received {frame.Type}");
                }

                var response = InitializeConnectionResponse.Read(_header);
                if (response.Digests != digests || response.ControllerDataAlignment != 0 || response.FormatVersion != 0)
                {
                    throw new NvmeTransportException($"ICResp: DGST {response.Digests} (asked {digests}), CPDA {response.ControllerDataAlignment}, PFV {response.FormatVersion}");
                }

                MaxH2CData = response.MaxH2CData;
                _rules = new PduFramingRules(PduReceiver.Host, true, _options.HeaderDigest, _options.DataDigest, 0, uint.MaxValue / 2);
                return;
            }

            if (status == FrameStatus.Fatal)
            {
                TerminationRequest? termination = null;
                if (buffer.Length >= PduSizes.TerminationRequestHeader && buffer.FirstSpan.Length > 0 && buffer.FirstSpan[0] == (byte)PduType.ControllerToHostTerminationRequest)
                {
                    var bytes = buffer.Slice(0, PduSizes.TerminationRequestHeader).ToArray();
                    termination = TerminationRequest.Read(bytes);
                }

                throw termination is { } t
                    ? new NvmeTransportException($"controller terminated the connection: {t.Status} (FEI {t.ErrorInformation})", t.Status, t.ErrorInformation)
                    : new NvmeTransportException($"malformed ICResp: {error.Reason}", error.Status, error.Information);
            }

            if (result.IsCompleted)
            {
                throw new NvmeTransportException("connection closed before ICResp");
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Sends one command and waits for its completion. The CID and SGL are filled in here;
    /// <paramref name="dataOut"/> is sent (in-capsule or by R2T), <paramref name="dataIn"/> receives C2H data.
    /// </summary>
    public async Task<CompletionQueueEntry> SubmitAsync(SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut = default, Memory<byte> dataIn = default, CancellationToken cancellationToken = default)
    {
        Pending pending;
        lock (_pendingLock)
        {
            if (_failure is not null)
            {
                throw new NvmeTransportException("the connection has failed", _failure);
            }

            ushort id;
            do
            {
                id = _nextCommandId++;
            }
            while (_pending.ContainsKey(id));

            pending = new Pending(id, dataOut, dataIn);
            _pending.Add(id, pending);
        }

        command.CommandId = pending.CommandId;
        command.Flags = (byte)((command.Flags & 0x3F) | SubmissionQueueEntry.SglFlags);
        bool inCapsule = dataOut.Length > 0 && dataOut.Length <= _options.InCapsuleDataLimit;
        int length = Math.Max(dataOut.Length, dataIn.Length);
        command.Sgl = new SglDescriptor(0, (uint)length, inCapsule ? SglDescriptor.DataBlockOffset : SglDescriptor.TransportDataBlock);

        var pdu = new byte[PduWriter.MaxHeaderWithDigest + (inCapsule ? dataOut.Length + PduSizes.Digest : 0)];
        int headerLength = PduWriter.WriteCapsuleCommandHeader(pdu, command, inCapsule ? dataOut.Length : 0, _options.HeaderDigest, _options.DataDigest);
        int total = headerLength;
        if (inCapsule)
        {
            dataOut.Span.CopyTo(pdu.AsSpan(total));
            total += dataOut.Length;
            if (_options.DataDigest)
            {
                PduWriter.WriteDataDigest(pdu.AsSpan(total), dataOut.Span);
                total += PduSizes.Digest;
            }
        }

        await SendAsync(pdu.AsMemory(0, total), cancellationToken).ConfigureAwait(false);
        using var registration = cancellationToken.Register(() => pending.Done.TrySetCanceled(cancellationToken));
        return await pending.Done.Task.ConfigureAwait(false);
    }

    /// <summary>Sends bytes as they are: for tests of how a controller handles malformed PDUs.</summary>
    public Task SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default) => SendAsync(bytes, cancellationToken);

    /// <summary>Completes when the connection has ended; returns why.</summary>
    public async Task<Exception?> WaitForCloseAsync()
    {
        await _receiver.ConfigureAwait(false);
        return Failure;
    }

    private async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task ReceiveLoopAsync()
    {
        Exception failure = new NvmeTransportException("connection closed by the controller");
        try
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

                    if (status == FrameStatus.Fatal)
                    {
                        throw new NvmeTransportException($"malformed PDU from the controller: {error.Reason}", error.Status, error.Information);
                    }

                    await HandleAsync(frame, buffer.Slice(0, frame.Length)).ConfigureAwait(false);
                    buffer = buffer.Slice(frame.Length);
                }

                _input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is NvmeTransportException or IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            failure = ex;
        }

        Fail(failure);
    }

    private async Task HandleAsync(PduFrame frame, ReadOnlySequence<byte> pdu)
    {
        switch (frame.Type)
        {
            case PduType.CapsuleResponse:
                {
                    var completion = CompletionQueueEntry.Read(_header.AsSpan(PduSizes.CommonHeader));
                    var pending = Take(completion.CommandId);
                    pending?.Done.TrySetResult(completion);
                    break;
                }

            case PduType.ControllerToHostData:
                {
                    var transfer = DataTransferHeader.Read(_header);
                    var pending = Find(transfer.CommandId) ?? throw new NvmeTransportException($"C2HData for unknown CID {transfer.CommandId}");
                    if (!frame.DataDigestValid)
                    {
                        throw new NvmeTransportException($"C2HData data digest error on CID {transfer.CommandId}");
                    }

                    if (transfer.DataOffset + (ulong)transfer.DataLength > (ulong)pending.DataIn.Length)
                    {
                        throw new NvmeTransportException($"C2HData beyond the {pending.DataIn.Length}-byte buffer of CID {transfer.CommandId}", FatalErrorStatus.DataTransferOutOfRange);
                    }

                    pdu.Slice(frame.DataOffset, frame.DataLength).CopyTo(pending.DataIn.Span[(int)transfer.DataOffset..]);
                    pending.Received += frame.DataLength;
                    if ((frame.Header.Flags & PduFlags.Success) != 0)
                    {
                        Take(transfer.CommandId)?.Done.TrySetResult(new CompletionQueueEntry(0, 0, 0, 0, transfer.CommandId, NvmeStatus.Success));
                    }

                    break;
                }

            case PduType.ReadyToTransfer:
                {
                    var request = DataTransferHeader.Read(_header);
                    var pending = Find(request.CommandId) ?? throw new NvmeTransportException($"R2T for unknown CID {request.CommandId}");
                    await SendDataAsync(pending, request).ConfigureAwait(false);
                    break;
                }

            case PduType.ControllerToHostTerminationRequest:
                {
                    var termination = TerminationRequest.Read(_header);
                    throw new NvmeTransportException($"controller terminated the connection: {termination.Status} (FEI {termination.ErrorInformation})", termination.Status, termination.ErrorInformation);
                }

            default:
                throw new NvmeTransportException($"unexpected {frame.Type}");
        }
    }

    /// <summary>Answers an R2T with H2CData PDUs of at most MAXH2CDATA each.</summary>
    private async Task SendDataAsync(Pending pending, DataTransferHeader request)
    {
        if (request.DataOffset + (ulong)request.DataLength > (ulong)pending.DataOut.Length || request.DataLength == 0)
        {
            throw new NvmeTransportException($"R2T for {request.DataLength} bytes at {request.DataOffset} outside the {pending.DataOut.Length}-byte write");
        }

        uint sent = 0;
        while (sent < request.DataLength)
        {
            uint chunk = Math.Min(request.DataLength - sent, MaxH2CData);
            var data = pending.DataOut.Slice((int)(request.DataOffset + sent), (int)chunk);
            bool last = sent + chunk == request.DataLength;
            var header = new DataTransferHeader(pending.CommandId, request.TransferTag, request.DataOffset + sent, chunk);
            var pdu = new byte[PduWriter.MaxHeaderWithDigest + chunk + PduSizes.Digest];
            int length = PduWriter.WriteDataHeader(pdu, PduType.HostToControllerData, header, last, success: false, _options.HeaderDigest, _options.DataDigest);
            data.Span.CopyTo(pdu.AsSpan(length));
            length += (int)chunk;
            if (_options.DataDigest)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(length), Crc32C.Compute(data.Span));
                length += PduSizes.Digest;
            }

            await SendAsync(pdu.AsMemory(0, length), CancellationToken.None).ConfigureAwait(false);
            sent += chunk;
        }
    }

    private Pending? Find(ushort commandId)
    {
        lock (_pendingLock)
        {
            return _pending.GetValueOrDefault(commandId);
        }
    }

    private Pending? Take(ushort commandId)
    {
        lock (_pendingLock)
        {
            return _pending.Remove(commandId, out var pending) ? pending : null;
        }
    }

    private void Fail(Exception failure)
    {
        Pending[] pending;
        lock (_pendingLock)
        {
            _failure ??= failure;
            pending = [.. _pending.Values];
            _pending.Clear();
        }

        foreach (var p in pending)
        {
            p.Done.TrySetException(failure);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _receiver.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }

        await _input.CompleteAsync().ConfigureAwait(false);
        _sendLock.Dispose();
    }
}
