using System.Buffers;
using System.Net.Sockets;
using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>The receive side: ICResp, then the loop that frames and dispatches every PDU.</summary>
public sealed partial class HostQueue
{
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
                    throw new NvmeTransportException($"ICResp: DGST {response.Digests} (asked {digests}), CPDA {response.ControllerDataAlignment}, PFV {response.FormatVersion}", FatalErrorStatus.InvalidHeaderField);
                }

                if (response.MaxH2CData < 4096 || response.MaxH2CData % 4 != 0)
                {
                    throw new NvmeTransportException($"ICResp: MAXH2CDATA {response.MaxH2CData} must be a multiple of 4 and at least 4096", FatalErrorStatus.InvalidHeaderField, InitializeConnectionRequest.MaxR2TOffset);
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

                    Handle(frame, buffer.Slice(0, frame.Length));
                    buffer = buffer.Slice(frame.Length);
                }

                _input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (NvmeTransportException ex)
        {
            failure = ex;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Every pending command fails with a transport exception, whatever broke the socket.
            failure = new NvmeTransportException($"receiving from the controller failed: {ex.Message}", FatalErrorStatus.None, 0, ex);
        }

        Fail(failure);
        Abort();
    }

    private void Handle(in PduFrame frame, in ReadOnlySequence<byte> pdu)
    {
        switch (frame.Type)
        {
            case PduType.CapsuleResponse:
                {
                    var completion = CompletionQueueEntry.Read(_header.AsSpan(PduSizes.CommonHeader));
                    // An unknown CID is ignored: a raw PDU a test sent, or a command already failed.
                    _commands.Find(completion.CommandId)?.Respond(completion);
                    break;
                }

            case PduType.ControllerToHostData:
                ReceiveData(frame, pdu);
                break;

            case PduType.ReadyToTransfer:
                SendRequestedData(DataTransferHeader.Read(_header));
                break;

            case PduType.ControllerToHostTerminationRequest:
                {
                    var termination = TerminationRequest.Read(_header);
                    throw new NvmeTransportException($"controller terminated the connection: {termination.Status} (FEI {termination.ErrorInformation})", termination.Status, termination.ErrorInformation);
                }

            default:
                throw new NvmeTransportException($"unexpected {frame.Type} from the controller", FatalErrorStatus.InvalidHeaderField, 0);
        }
    }

    /// <summary>C2HData: the bytes go straight into the submitter's buffer at DATAO.</summary>
    private void ReceiveData(in PduFrame frame, in ReadOnlySequence<byte> pdu)
    {
        var transfer = DataTransferHeader.Read(_header);
        var slot = _commands.Find(transfer.CommandId)
            ?? throw new NvmeTransportException($"C2HData: CCCID {transfer.CommandId} names no outstanding command", FatalErrorStatus.InvalidHeaderField, DataTransferHeader.CommandIdOffset);
        if (!frame.DataDigestValid)
        {
            throw new NvmeTransportException($"C2HData: data digest error on CCCID {transfer.CommandId}");
        }

        if (transfer.DataOffset + (ulong)transfer.DataLength > (ulong)slot.DataIn.Length)
        {
            throw new NvmeTransportException($"C2HData: DATAO {transfer.DataOffset} + DATAL {transfer.DataLength} beyond the {slot.DataIn.Length}-byte buffer of CCCID {transfer.CommandId}", FatalErrorStatus.DataTransferOutOfRange, DataTransferHeader.DataOffsetOffset);
        }

        if (!slot.Abandoned)
        {
            pdu.Slice(frame.DataOffset, frame.DataLength).CopyTo(slot.DataIn.Span[(int)transfer.DataOffset..]);
        }

        if ((frame.Header.Flags & PduFlags.Success) != 0)
        {
            if ((frame.Header.Flags & PduFlags.LastPdu) == 0)
            {
                throw new NvmeTransportException($"C2HData: SUCCESS without LAST_PDU on CCCID {transfer.CommandId}", FatalErrorStatus.InvalidHeaderField, PduHeader.FlagsOffset);
            }

            slot.Respond(new CompletionQueueEntry(0, 0, 0, 0, transfer.CommandId, NvmeStatus.Success));
        }
    }

    /// <summary>Answers an R2T with H2CData PDUs of at most MAXH2CDATA each, queued at once.</summary>
    private void SendRequestedData(in DataTransferHeader request)
    {
        var slot = _commands.Find(request.CommandId)
            ?? throw new NvmeTransportException($"R2T: CCCID {request.CommandId} names no outstanding command", FatalErrorStatus.InvalidHeaderField, DataTransferHeader.CommandIdOffset);
        var dataOut = slot.DataOut;
        if (request.DataLength == 0 || request.DataOffset + (ulong)request.DataLength > (ulong)dataOut.Length)
        {
            throw new NvmeTransportException($"R2T: R2TO {request.DataOffset} + R2TL {request.DataLength} outside the {dataOut.Length}-byte write of CCCID {request.CommandId}", FatalErrorStatus.DataTransferOutOfRange, DataTransferHeader.DataOffsetOffset);
        }

        lock (_sender.Lock)
        {
            if (!_sender.IsOpen)
            {
                return;
            }

            var writer = _sender.Writer;
            uint sent = 0;
            while (sent < request.DataLength)
            {
                uint chunk = Math.Min(request.DataLength - sent, MaxH2CData);
                var data = dataOut.Span.Slice((int)(request.DataOffset + sent), (int)chunk);
                bool last = sent + chunk == request.DataLength;
                var header = new DataTransferHeader(request.CommandId, request.TransferTag, request.DataOffset + sent, chunk);
                int length = PduWriter.WriteDataHeader(writer.GetSpan(PduWriter.MaxHeaderWithDigest), PduType.HostToControllerData, header, last, success: false, _options.HeaderDigest, _options.DataDigest);
                writer.Advance(length);
                WriteData(writer, data);
                sent += chunk;
            }

            _sender.Commit();
        }
    }
}
