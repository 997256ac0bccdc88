using System.Buffers;
using Microsoft.AspNetCore.Connections;
using NovaStor.Protocol;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>The send path: the single writer of the connection's output pipe.</summary>
internal sealed partial class TcpQueue
{
    /// <summary>How long a closing queue waits for engine requests that still use its buffers.</summary>
    private static readonly TimeSpan InFlightDrainLimit = TimeSpan.FromSeconds(30);

    private async Task SendLoopAsync()
    {
        var reader = _outgoing.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                // Write everything that is ready, then flush once: responses batch under load.
                while (reader.TryRead(out var item))
                {
                    if (item.Kind == OutgoingKind.ReadyToTransfer)
                    {
                        WriteReadyToTransfer(item.Request);
                    }
                    else
                    {
                        WriteCompletion(item.Request);
                        Release(item.Request);
                    }
                }

                var flush = await _output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException)
        {
            // The connection is gone; the receive loop notices and closes.
        }
        catch (Exception ex)
        {
            // A bug of ours: log it and end this connection only.
            Log.QueueFailed(_logger, ex, _session.QueueId, _session.ControllerIdForLog, RemoteEndPoint);
            Disconnect("send path failed");
        }
        finally
        {
            _outgoing.Writer.TryComplete();
            while (reader.TryRead(out var item))
            {
                Release(item.Request);
            }
        }
    }

    private void WriteReadyToTransfer(NvmeRequest request)
    {
        var transfer = new DataTransferHeader(request.Command.CommandId, request.Slot, 0, (uint)request.DataLength);
        int length = PduWriter.WriteReadyToTransfer(_output.GetSpan(PduWriter.MaxHeaderWithDigest), transfer, _headerDigest);
        _output.Advance(length);
    }

    /// <summary>C2HData (one PDU with all the data, as the Linux target and SPDK send it) when a read succeeded, then CapsuleResp.</summary>
    private void WriteCompletion(NvmeRequest request)
    {
        if (request.Direction == DataDirection.ControllerToHost && request.Status.IsSuccess)
        {
            var data = request.Data;
            var transfer = new DataTransferHeader(request.Command.CommandId, 0, 0, (uint)data.Length);
            int length = PduWriter.WriteDataHeader(_output.GetSpan(PduWriter.MaxHeaderWithDigest), PduType.ControllerToHostData, transfer,
                last: true, success: false, _headerDigest, _dataDigest);
            _output.Advance(length);
            _output.Write(data);
            if (_dataDigest)
            {
                PduWriter.WriteDataDigest(_output.GetSpan(PduSizes.Digest), data);
                _output.Advance(PduSizes.Digest);
            }
        }

        var completion = new CompletionQueueEntry(request.Result0, request.Result1, _session.SubmissionQueueHead, _session.QueueId, request.Command.CommandId, request.Status);
        int responseLength = PduWriter.WriteCapsuleResponse(_output.GetSpan(PduWriter.MaxHeaderWithDigest), completion, _headerDigest);
        _output.Advance(responseLength);
    }

    private void Release(NvmeRequest request)
    {
        request.State = RequestState.Free;
        _requests.Return(request);
    }

    /// <summary>Ends the connection for a transport error: pending output first, then C2HTermReq.</summary>
    private async Task TerminateAsync(TransportError error, ReadOnlyMemory<byte> offendingHeader, Task sender)
    {
        _outgoing.Writer.TryComplete();
        await sender.ConfigureAwait(false);
        await WriteTerminationAsync(error, offendingHeader).ConfigureAwait(false);
    }

    private async Task WriteTerminationAsync(TransportError error, ReadOnlyMemory<byte> offendingHeader)
    {
        Log.FatalTransportError(_logger, _session.QueueId, _session.ControllerIdForLog, RemoteEndPoint, error.Status, error.Information, error.Reason);
        var termination = new TerminationRequest(PduType.ControllerToHostTerminationRequest, error.Status, error.Information);
        int length = termination.WriteTo(_output.GetSpan(PduSizes.TerminationRequestMax), offendingHeader.Span);
        _output.Advance(length);
        await _output.FlushAsync().ConfigureAwait(false);
    }

    private async Task CloseAsync(Task sender)
    {
        _outgoing.Writer.TryComplete();
        try
        {
            await sender.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException)
        {
        }

        _session.Close();
        Log.QueueClosed(_logger, _session.QueueId, _session.ControllerIdForLog, RemoteEndPoint, _disconnectReason ?? "connection closed");

        // Engine requests still write into this queue's buffers: wait for them before freeing.
        var deadline = DateTime.UtcNow + InFlightDrainLimit;
        while (_session.EngineRequestsInFlight > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5).ConfigureAwait(false);
        }

        if (_session.EngineRequestsInFlight == 0)
        {
            _requests.Dispose();
        }
        else
        {
            // Leaking the buffers is the safe choice: the engine may still write into them.
            Log.BuffersLeaked(_logger, _session.QueueId, _session.ControllerIdForLog, _session.EngineRequestsInFlight);
        }

        await _input.CompleteAsync().ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
    }
}
