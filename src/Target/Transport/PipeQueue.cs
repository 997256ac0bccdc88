using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Protocol;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>
/// One NVMe/TCP connection over Kestrel's connection pipes: the transport where io_uring is
/// refused (default container seccomp profiles, kernel.io_uring_disabled).
/// </summary>
/// <remarks>
/// <para><b>Threads.</b> The receive loop (Kestrel's socket thread with inline scheduling) frames
/// PDUs and hands commands to the controller. Whichever thread completes a command (an engine
/// thread, a timer, or the receive loop itself) adds its response to the filling batch under the
/// queue's output lock: a few header bytes and a reference to the read data, so the lock is held
/// briefly. Then, unless another thread is already sending or the receive loop will send at the end
/// of its batch, that thread becomes the sender: off the lock it copies the batch into the output
/// pipe, returns the commands' slots, flushes (Kestrel's sender sends inline, on this thread), and
/// repeats while responses arrived meanwhile. No channel and no send loop: a response is sent by the
/// thread that produced it or by the one already sending, and many responses leave in one send.</para>
/// <para><b>Backpressure.</b> A flush that cannot complete (the socket is full) keeps the sender
/// role while it waits; responses produced meanwhile accumulate in the filling batch, bounded by
/// the queue depth, and go with the next flush. Only this queue waits.</para>
/// </remarks>
internal sealed class PipeQueue : NvmeTcpQueue
{
    /// <summary>How long a closing queue waits for engine requests that still use its buffers.</summary>
    private static readonly TimeSpan InFlightDrainLimit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Responses are flushed in groups of at most this many bytes: Kestrel sends a flush's bytes as
    /// one sendmsg over its 4 KiB pool blocks, and .NET allocates the iovec and handle arrays of a
    /// send with more than 8 buffers (Linux's UIO_FASTIOV) on the heap. 24 KiB spans at most 8 blocks,
    /// so batched small responses cost nothing per command; one larger response (a 128 KiB read)
    /// still goes in one send.
    /// </summary>
    private const int MaxBytesPerFlush = 24 * 1024;

    private readonly ConnectionContext _connection;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly TimeProvider _time;
    private readonly Lock _outputLock = new();

    // Under _outputLock.
    private OutputBatch _filling = new();
    private bool _inReceiveBatch;
    private bool _senderActive;
    private bool _outputClosed;
    private TaskCompletionSource? _senderIdle;

    // The sender's only (the thread that set _senderActive): the batch being copied into the pipe.
    private OutputBatch _sendBatch = new();

    public PipeQueue(ConnectionContext connection, SubsystemRegistry registry, TargetLimits limits, TimeProvider time, ILogger logger, EngineLane? lane = null)
        : base(registry, limits, time, logger, lane, connection.LocalEndPoint, connection.RemoteEndPoint?.ToString() ?? "unknown", limits.MaxQueueEntries)
    {
        _connection = connection;
        _input = connection.Transport.Input;
        _output = connection.Transport.Output;
        _time = time;
    }

    /// <summary>Runs the connection until the peer leaves, a fatal error, or a disconnect.</summary>
    public async Task RunAsync()
    {
        // When the target stops, Kestrel asks each connection to close and waits for it until the
        // host's shutdown timeout, then aborts. An NVMe/TCP queue has no graceful close of its own
        // and would otherwise sit in ReadAsync, holding every stop up for the whole timeout: end it
        // now (the host sees the connection drop and reconnects, as after any target restart).
        var closeRequested = _connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        using var stopping = closeRequested.Register(static state => ((PipeQueue)state!).Disconnect("target stopping"), this);
        try
        {
            if (await ReceiveLoopAsync().ConfigureAwait(false) is { } fatal)
            {
                await TerminateAsync(fatal).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException)
        {
            // The peer went away or the connection was aborted (disconnect, keep-alive expiry).
        }
        catch (Exception ex)
        {
            // A bug of ours must not take the process down: log it and end this connection only.
            Log.QueueFailed(Logger, ex, Session.QueueId, Session.ControllerIdForLog, RemoteEndPoint);
        }
        finally
        {
            await CloseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Queues the response and sends it unless a sender is at work; any thread, once per command.</summary>
    public override void Complete(NvmeRequest request)
    {
        ResponseWritten();
        bool queued = false, send = false;
        lock (_outputLock)
        {
            if (!_outputClosed)
            {
                // The batch holds the command: its slot returns once the response is in the pipe.
                WriteResponse(_filling, request);
                queued = true;
                send = TryBecomeSenderLocked();
            }
        }

        if (!queued)
        {
            Release(request); // nothing will be sent
        }
        else if (send)
        {
            _ = SendAsync();
        }
    }

    public override void Disconnect(string reason)
    {
        SetDisconnectReason(reason);
        _connection.Abort(new ConnectionAbortedException(reason));
    }

    // Both are called by the receive loop inside its batch: what they write goes at the batch's end.
    protected override void SendInitializeResponse(in InitializeConnectionResponse response)
    {
        lock (_outputLock)
        {
            response.WriteTo(_filling.Reserve(PduSizes.InitializeConnection));
            _filling.Commit(PduSizes.InitializeConnection);
        }
    }

    protected override void SendReadyToTransfer(NvmeRequest request)
    {
        lock (_outputLock)
        {
            if (!_outputClosed)
            {
                _filling.Commit(WriteReadyToTransfer(_filling.Reserve(PduWriter.MaxHeaderWithDigest), request));
            }
        }
    }

    /// <summary>Frames and handles PDUs until the peer closes (null) or a fatal transport error.</summary>
    private async Task<FatalPdu?> ReceiveLoopAsync()
    {
        while (true)
        {
            var result = await _input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            long consumed;
            FatalPdu? fatal;
            SetReceiveBatch(true);
            try
            {
                consumed = ProcessReceived(buffer, out fatal);
            }
            finally
            {
                // Everything the batch produced (R2Ts, inline completions) goes out in one flush.
                SetReceiveBatch(false);
            }

            if (fatal is not null)
            {
                _input.AdvanceTo(buffer.GetPosition(consumed));
                return fatal;
            }

            _input.AdvanceTo(buffer.GetPosition(consumed), buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return null;
            }
        }
    }

    private void SetReceiveBatch(bool inBatch)
    {
        bool send;
        lock (_outputLock)
        {
            _inReceiveBatch = inBatch;
            send = !inBatch && TryBecomeSenderLocked();
        }

        if (send)
        {
            _ = SendAsync();
        }
    }

    /// <summary>Under the lock: takes the sender role when there is output and nobody else will send it.</summary>
    private bool TryBecomeSenderLocked()
    {
        if (_senderActive || _inReceiveBatch || _outputClosed || _filling.IsEmpty)
        {
            return false;
        }

        _senderActive = true;
        return true;
    }

    /// <summary>
    /// The sender: copies the filling batch into the pipe and flushes it, until nothing is left.
    /// Completes synchronously (no allocation) unless a flush has to wait for the socket.
    /// </summary>
    private async Task SendAsync()
    {
        while (true)
        {
            lock (_outputLock)
            {
                if (_outputClosed || _filling.IsEmpty)
                {
                    ReleaseHeld(_filling); // empty, or never to be sent
                    _senderActive = false;
                    _senderIdle?.TrySetResult();
                    _senderIdle = null;
                    return;
                }

                (_filling, _sendBatch) = (_sendBatch, _filling);
            }

            // Off the lock: completions keep adding to the other batch meanwhile.
            bool closed = false;
            try
            {
                try
                {
                    for (int piece = 0; piece < _sendBatch.PieceCount && !closed;)
                    {
                        piece = _sendBatch.CopyTo(_output, piece, MaxBytesPerFlush);
                        var result = await _output.FlushAsync().ConfigureAwait(false);
                        closed = result.IsCompleted || result.IsCanceled;
                    }
                }
                finally
                {
                    ReleaseHeld(_sendBatch); // the bytes are in the pipe (or never will be)
                }
            }
            catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException or InvalidOperationException)
            {
                closed = true; // the peer went away or the connection was aborted
            }
            catch (Exception ex)
            {
                // A bug of ours: end this connection only, and never leave the sender role held.
                Log.QueueFailed(Logger, ex, Session.QueueId, Session.ControllerIdForLog, RemoteEndPoint);
                _connection.Abort(new ConnectionAbortedException("send failed"));
                closed = true;
            }

            if (closed)
            {
                lock (_outputLock)
                {
                    _outputClosed = true;
                }
            }
        }
    }

    /// <summary>Ends the connection for a transport error: pending output first, then C2HTermReq.</summary>
    private async Task TerminateAsync(FatalPdu fatal)
    {
        bool send = false;
        lock (_outputLock)
        {
            if (!_outputClosed)
            {
                _filling.Commit(WriteTermination(_filling.Reserve(PduSizes.TerminationRequestMax), fatal.Error, fatal.OffendingHeader));
                send = TryBecomeSenderLocked();
            }
        }

        if (send)
        {
            _ = SendAsync();
        }

        await WhenSenderIdleAsync().ConfigureAwait(false);
    }

    /// <summary>Completes when no thread is sending (everything queued before has been flushed, or the output closed).</summary>
    private Task WhenSenderIdleAsync()
    {
        lock (_outputLock)
        {
            if (!_senderActive)
            {
                return Task.CompletedTask;
            }

            _senderIdle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _senderIdle.Task;
        }
    }

    private async Task CloseAsync()
    {
        lock (_outputLock)
        {
            _outputClosed = true;
        }

        // A sender in a flush finishes it (the connection is ending, so not for long) and stops.
        await WhenSenderIdleAsync().ConfigureAwait(false);
        lock (_outputLock)
        {
            ReleaseHeld(_filling); // responses that will never be sent
            _filling.Dispose();
            _sendBatch.Dispose();
        }

        Session.Close();
        Closed();

        // Engine requests still write into this queue's buffers: wait for them before freeing.
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Session.NotifyWhenEngineIdle(() => idle.TrySetResult());
        try
        {
            await idle.Task.WaitAsync(InFlightDrainLimit, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        if (Session.EngineRequestsInFlight == 0)
        {
            Requests.Dispose();
        }
        else
        {
            // Leaking the buffers is the safe choice: the engine may still write into them.
            Log.BuffersLeaked(Logger, Session.QueueId, Session.ControllerIdForLog, Session.EngineRequestsInFlight);
        }

        await _input.CompleteAsync().ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
    }
}
