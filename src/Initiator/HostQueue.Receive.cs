using System.Buffers;
using NovaStor.Initiator.Transport;
using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>The receive side: ICResp, then every PDU framed and dispatched as the transport hands bytes over.</summary>
public sealed partial class HostQueue
{
    /// <summary>ICReq, then the ICResp the receive side checks in <see cref="HandleInitializeResponse"/>.</summary>
    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var request = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionRequest(0, 0, _digests, 0).WriteTo(request);
        if (!_transport.Send(default, request, dataDigest: false))
        {
            throw Failure ?? new NvmeTransportException("connection closed before ICResp");
        }

        await _initialized.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void HandleInitializeResponse()
    {
        var response = InitializeConnectionResponse.Read(_header);
        if (response.Digests != _digests || response.ControllerDataAlignment != 0 || response.FormatVersion != 0)
        {
            throw new NvmeTransportException($"ICResp: DGST {response.Digests} (asked {_digests}), CPDA {response.ControllerDataAlignment}, PFV {response.FormatVersion}", FatalErrorStatus.InvalidHeaderField);
        }

        if (response.MaxH2CData < 4096 || response.MaxH2CData % 4 != 0)
        {
            throw new NvmeTransportException($"ICResp: MAXH2CDATA {response.MaxH2CData} must be a multiple of 4 and at least 4096", FatalErrorStatus.InvalidHeaderField, InitializeConnectionRequest.MaxR2TOffset);
        }

        MaxH2CData = response.MaxH2CData;
        _rules = new PduFramingRules(PduReceiver.Host, true, _options.HeaderDigest, _options.DataDigest, 0, uint.MaxValue / 2);
        _initialized.TrySetResult();
    }

    /// <summary>
    /// Frames and handles every whole PDU at the start of <paramref name="buffer"/>, on the
    /// transport's receive side; returns the bytes they took.
    /// </summary>
    long IPduReceiver.Receive(in ReadOnlySequence<byte> buffer)
    {
        long used = 0;
        var rest = buffer;
        while (true)
        {
            var status = PduFramer.TryFrame(rest, _rules, _header, out var frame, out var error);
            if (status == FrameStatus.Incomplete)
            {
                return used;
            }

            if (status == FrameStatus.Fatal)
            {
                throw FramingError(rest, error);
            }

            Handle(frame, rest.Slice(0, frame.Length));
            rest = rest.Slice(frame.Length);
            used += frame.Length;
        }
    }

    /// <summary>A PDU the framer refused; a termination request that could not be framed is still reported as one.</summary>
    private NvmeTransportException FramingError(in ReadOnlySequence<byte> buffer, in TransportError error)
    {
        if (buffer.Length >= PduSizes.TerminationRequestHeader && buffer.FirstSpan.Length > 0 && buffer.FirstSpan[0] == (byte)PduType.ControllerToHostTerminationRequest)
        {
            Span<byte> bytes = stackalloc byte[PduSizes.TerminationRequestHeader];
            buffer.Slice(0, PduSizes.TerminationRequestHeader).CopyTo(bytes);
            var t = TerminationRequest.Read(bytes);
            return new NvmeTransportException($"controller terminated the connection: {t.Status} (FEI {t.ErrorInformation})", t.Status, t.ErrorInformation);
        }

        return _rules.Initialized
            ? new NvmeTransportException($"malformed PDU from the controller: {error.Reason}", error.Status, error.Information)
            : new NvmeTransportException($"malformed ICResp: {error.Reason}", error.Status, error.Information);
    }

    private void Handle(in PduFrame frame, in ReadOnlySequence<byte> pdu)
    {
        switch (frame.Type)
        {
            case PduType.InitializeConnectionResponse:
                HandleInitializeResponse();
                break;

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
                throw _rules.Initialized
                    ? new NvmeTransportException($"unexpected {frame.Type} from the controller", FatalErrorStatus.InvalidHeaderField, 0)
                    : new NvmeTransportException($"expected ICResp, received {frame.Type}");
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

    /// <summary>Answers an R2T at once, on the receive side, with H2CData PDUs of at most MAXH2CDATA each.</summary>
    private void SendRequestedData(in DataTransferHeader request)
    {
        var slot = _commands.Find(request.CommandId)
            ?? throw new NvmeTransportException($"R2T: CCCID {request.CommandId} names no outstanding command", FatalErrorStatus.InvalidHeaderField, DataTransferHeader.CommandIdOffset);
        var dataOut = slot.DataOut;
        if (request.DataLength == 0 || request.DataOffset + (ulong)request.DataLength > (ulong)dataOut.Length)
        {
            throw new NvmeTransportException($"R2T: R2TO {request.DataOffset} + R2TL {request.DataLength} outside the {dataOut.Length}-byte write of CCCID {request.CommandId}", FatalErrorStatus.DataTransferOutOfRange, DataTransferHeader.DataOffsetOffset);
        }

        // H2CData PDUs of at most MAXH2CDATA, each sent from the caller's memory as it is.
        Span<byte> header = stackalloc byte[PduWriter.MaxHeaderWithDigest];
        uint sent = 0;
        while (sent < request.DataLength)
        {
            uint chunk = Math.Min(request.DataLength - sent, MaxH2CData);
            bool last = sent + chunk == request.DataLength;
            var transfer = new DataTransferHeader(request.CommandId, request.TransferTag, request.DataOffset + sent, chunk);
            int length = PduWriter.WriteDataHeader(header, PduType.HostToControllerData, transfer, last, success: false, _options.HeaderDigest, _options.DataDigest);
            if (!_transport.Send(header[..length], dataOut.Slice((int)(request.DataOffset + sent), (int)chunk), _options.DataDigest, more: !last))
            {
                return;
            }

            sent += chunk;
        }
    }
}
