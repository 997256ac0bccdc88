using System.Buffers;
using NovaStor.Protocol;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>The receive path: command capsules and host data.</summary>
internal sealed partial class TcpQueue
{
    private FrameStatus HandleCommand(in PduFrame frame, in ReadOnlySequence<byte> pdu, out TransportError error)
    {
        error = default;
        var command = SubmissionQueueEntry.Read(_header.AsSpan(PduSizes.CommonHeader, PduSizes.SubmissionQueueEntry));
        var request = _requests.Rent();
        if (request is null)
        {
            // The host has more commands outstanding than the queue it connected can hold.
            error = new TransportError(FatalErrorStatus.PduSequenceError, 0, $"more than {_requests.Capacity} commands outstanding");
            return FrameStatus.Fatal;
        }

        request.Reset(command);
        _session.CommandFetched();

        var status = _session.Parse(request);
        if (status.IsSuccess)
        {
            status = CheckDataDescriptor(request, frame.DataLength);
        }

        if (status.IsSuccess && !frame.DataDigestValid)
        {
            Log.DataDigestError(_logger, _session.QueueId, _session.ControllerIdForLog, command.CommandId);
            status = StatusCodes.DataTransferError;
        }

        if (!status.IsSuccess)
        {
            LogCommandError(request, status);
            _session.Complete(request, status);
            return FrameStatus.Complete;
        }

        if (request.Direction == DataDirection.HostToController)
        {
            if (frame.DataLength > 0)
            {
                pdu.Slice(frame.DataOffset, frame.DataLength).CopyTo(request.Buffer.Span);
                request.ReceivedLength = frame.DataLength;
            }
            else
            {
                request.State = RequestState.AwaitingData;
                _outgoing.Writer.TryWrite(new Outgoing(request, OutgoingKind.ReadyToTransfer));
                return FrameStatus.Complete;
            }
        }

        request.State = RequestState.Executing;
        _session.Execute(request);
        return FrameStatus.Complete;
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
        var request = _requests[transfer.TransferTag];
        if (request is null || request.State != RequestState.AwaitingData)
        {
            error = new TransportError(FatalErrorStatus.InvalidHeaderField, DataTransferHeader.TransferTagOffset, $"TTAG {transfer.TransferTag} names no pending R2T");
            return FrameStatus.Fatal;
        }

        if (request.Command.CommandId != transfer.CommandId)
        {
            error = new TransportError(FatalErrorStatus.InvalidHeaderField, DataTransferHeader.CommandIdOffset, $"CCCID {transfer.CommandId} does not match TTAG {transfer.TransferTag}");
            return FrameStatus.Fatal;
        }

        // Data arrives in order and never beyond what the R2T asked for.
        if (transfer.DataOffset != (uint)request.ReceivedLength || transfer.DataOffset + (ulong)transfer.DataLength > (ulong)request.DataLength)
        {
            error = new TransportError(FatalErrorStatus.DataTransferOutOfRange, transfer.DataOffset,
                $"H2CData DATAO {transfer.DataOffset} DATAL {transfer.DataLength}, expected offset {request.ReceivedLength} of {request.DataLength}");
            return FrameStatus.Fatal;
        }

        pdu.Slice(frame.DataOffset, frame.DataLength).CopyTo(request.Buffer.Span[request.ReceivedLength..]);
        request.ReceivedLength += frame.DataLength;
        if (!frame.DataDigestValid)
        {
            Log.DataDigestError(_logger, _session.QueueId, _session.ControllerIdForLog, transfer.CommandId);
            request.TransferStatus = StatusCodes.DataTransferError;
        }

        error = default;
        if (request.ReceivedLength < request.DataLength)
        {
            return FrameStatus.Complete;
        }

        if (!request.TransferStatus.IsSuccess)
        {
            _session.Complete(request, request.TransferStatus);
            return FrameStatus.Complete;
        }

        request.State = RequestState.Executing;
        _session.Execute(request);
        return FrameStatus.Complete;
    }

    private void LogCommandError(NvmeRequest request, NvmeStatus status)
    {
        if (_logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Debug))
        {
            Log.CommandRejected(_logger, _session.QueueId, _session.ControllerIdForLog, request.Command.CommandId, request.Command.Opcode, status.ToString());
        }
    }
}
