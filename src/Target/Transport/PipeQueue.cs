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
/// thread, a timer, or the receive loop itself) writes its response into the output pipe at once,
/// under the queue's own output lock, and flushes it, unless the receive loop is inside a batch and
/// will flush once at its end. No channel and no send loop: a response costs one lock and at most
/// one flush on the thread that produced it, and Kestrel's sender (inline) sends it from there.</para>
/// <para><b>Backpressure.</b> A flush that cannot complete (the socket is full) is awaited off the
/// lock; responses produced meanwhile are written and go with the next flush. Only this queue waits.</para>
/// </remarks>
internal sealed class PipeQueue : NvmeTcpQueue
{
    /// <summary>How long a closing queue waits for engine requests that still use its buffers.</summary>
    private static readonly TimeSpan InFlightDrainLimit = TimeSpan.FromSeconds(30);

    private readonly ConnectionContext _connection;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly TimeProvider _time;
    private readonly Lock _outputLock = new();

    // Under _outputLock.
    private bool _inReceiveBatch;
    private bool _unflushed;
    private Task? _pendingFlush;
    private bool _outputClosed;

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

    /// <summary>Writes the response now, on the calling thread; any thread, once per command.</summary>
    public override void Complete(NvmeRequest request)
    {
        ResponseWritten();
        lock (_outputLock)
        {
            if (!_outputClosed)
            {
                request.State = RequestState.Completing;
                WriteResponse(request);
                _unflushed = true;
                if (!_inReceiveBatch)
                {
                    FlushLocked();
                }
            }
        }

        // The bytes are in the pipe (or nothing will be sent): the slot is free.
        Release(request);
    }

    public override void Disconnect(string reason)
    {
        SetDisconnectReason(reason);
        _connection.Abort(new ConnectionAbortedException(reason));
    }

    protected override void SendInitializeResponse(in InitializeConnectionResponse response)
    {
        lock (_outputLock)
        {
            response.WriteTo(_output.GetSpan(PduSizes.InitializeConnection));
            _output.Advance(PduSizes.InitializeConnection);
            _unflushed = true;
        }
    }

    protected override void SendReadyToTransfer(NvmeRequest request)
    {
        lock (_outputLock)
        {
            if (!_outputClosed)
            {
                _output.Advance(WriteReadyToTransfer(_output.GetSpan(PduWriter.MaxHeaderWithDigest), request));
                _unflushed = true;
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
        lock (_outputLock)
        {
            _inReceiveBatch = inBatch;
            if (!inBatch && _unflushed)
            {
                FlushLocked();
            }
        }
    }

    /// <summary>C2HData with the data (copied into the pipe) when a read succeeded, then CapsuleResp; under the lock.</summary>
    private void WriteResponse(NvmeRequest request)
    {
        if (SendsData(request))
        {
            var data = request.Data;
            _output.Advance(WriteDataHeader(_output.GetSpan(PduWriter.MaxHeaderWithDigest), request));
            _output.Write(data);
            if (DataDigest)
            {
                PduWriter.WriteDataDigest(_output.GetSpan(PduSizes.Digest), data);
                _output.Advance(PduSizes.Digest);
            }
        }

        _output.Advance(WriteCapsuleResponse(_output.GetSpan(PduWriter.MaxHeaderWithDigest), request));
    }

    /// <summary>Publishes what was written to Kestrel's sender; under the lock. One flush awaits at a time.</summary>
    private void FlushLocked()
    {
        if (_pendingFlush is not null || _outputClosed)
        {
            return; // the pending flush's continuation flushes what was written meanwhile
        }

        _unflushed = false;
        var flush = _output.FlushAsync();
        if (flush.IsCompletedSuccessfully)
        {
            if (flush.Result.IsCompleted || flush.Result.IsCanceled)
            {
                _outputClosed = true;
            }

            return;
        }

        var pending = AwaitFlushAsync(flush);
        // The continuation may already have run on this thread (the lock is re-entrant).
        _pendingFlush = pending.IsCompleted ? null : pending;
    }

    private async Task AwaitFlushAsync(ValueTask<FlushResult> flush)
    {
        bool closed;
        try
        {
            var result = await flush.ConfigureAwait(false);
            closed = result.IsCompleted || result.IsCanceled;
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException or InvalidOperationException)
        {
            closed = true;
        }

        lock (_outputLock)
        {
            _pendingFlush = null;
            _outputClosed |= closed;
            if (_unflushed && !_inReceiveBatch)
            {
                FlushLocked();
            }
        }
    }

    /// <summary>Ends the connection for a transport error: pending output first, then C2HTermReq.</summary>
    private async Task TerminateAsync(FatalPdu fatal)
    {
        lock (_outputLock)
        {
            if (!_outputClosed)
            {
                _output.Advance(WriteTermination(_output.GetSpan(PduSizes.TerminationRequestMax), fatal.Error, fatal.OffendingHeader));
                _unflushed = true;
                FlushLocked();
            }
        }

        await DrainOutputAsync().ConfigureAwait(false);
    }

    /// <summary>Waits until everything written has been flushed (or the output closed).</summary>
    private async Task DrainOutputAsync()
    {
        while (true)
        {
            Task? pending;
            lock (_outputLock)
            {
                if (_unflushed && _pendingFlush is null)
                {
                    FlushLocked();
                }

                pending = _pendingFlush;
            }

            if (pending is null)
            {
                return;
            }

            await pending.ConfigureAwait(false);
        }
    }

    private async Task CloseAsync()
    {
        Task? pending;
        lock (_outputLock)
        {
            _outputClosed = true;
            pending = _pendingFlush;
        }

        if (pending is not null)
        {
            await pending.ConfigureAwait(false); // never throws: AwaitFlushAsync catches
        }

        Session.Close();
        LogClosed();

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
