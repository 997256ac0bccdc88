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
/// the queue depth, and go with the next flush. Only this queue waits, and not for ever: a flush
/// that has waited <see cref="TargetLimits.SendStallTimeout"/> (the host reads nothing) closes the
/// connection, which gives its buffers back.</para>
/// <para><b>Data buffers.</b> A command that moves data takes a buffer from its lane's bounded pool
/// (the reactor's, or the positional engine's one for the process) and gives it back once its
/// response is in the pipe; with none free it waits, in arrival order, and so does every later
/// command of this queue. Waiting commands resume on the receive loop, woken by cancelling its
/// pending read (<see cref="PipeReader.CancelPendingRead"/>), so a command only ever runs on that
/// thread, as when it arrived.</para>
/// </remarks>
internal sealed class PipeQueue : NvmeTcpQueue, ICommandBufferWaiter, IThreadPoolWorkItem
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

    // The lane's bounded data buffers (null: each slot has its own). The waiting commands are the
    // receive loop's only; the counts are read by the threads that give buffers back.
    private readonly CommandBufferPool? _buffers;
    private readonly Queue<NvmeRequest> _waitingForBuffer = new();
    private readonly int _buffersPerQueue;
    private int _buffersHeld;
    private int _waitingCount;
    private int _resumeRequested;

    // When the flush the sender waits for started (0: none waits); a timer checks it.
    private long _flushWaitingSince;
    private ITimer? _stallCheck;

    public PipeQueue(ConnectionContext connection, SubsystemRegistry registry, TargetLimits limits, TimeProvider time, ILogger logger, EngineLane? lane = null)
        : base(registry, limits, time, logger, lane, connection.LocalEndPoint, connection.RemoteEndPoint?.ToString() ?? "unknown", limits.MaxQueueEntries)
    {
        _connection = connection;
        _input = connection.Transport.Input;
        _output = connection.Transport.Output;
        _time = time;
        _buffers = lane?.CommandBuffers is { } pool && pool.BufferBytes >= limits.MaxTransferBytes ? pool : null;
        _buffersPerQueue = Math.Max(1, limits.MaxBuffersPerQueue);
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
        var period = Limits.SendStallTimeout / 3;
        _stallCheck = _time.CreateTimer(static state => ((PipeQueue)state!).CheckSendStall(), this, period, period);
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

    /// <summary>
    /// A command that moves data takes a buffer of the lane's pool; with none free (or this queue's
    /// share taken) it waits in this queue's line, and so does every later one, in order, except
    /// in-capsule data, which is already here: it goes to the slot's own small buffer. The receive loop.
    /// </summary>
    protected override bool AcquireBuffer(NvmeRequest request, bool inCapsuleData)
    {
        if (_buffers is null)
        {
            return true;
        }

        if (_waitingForBuffer.Count == 0 && Volatile.Read(ref _buffersHeld) < _buffersPerQueue && _buffers.TryRent(out int slot))
        {
            Interlocked.Increment(ref _buffersHeld);
            request.AttachPooledBuffer(_buffers, slot);
            return true;
        }

        if (inCapsuleData)
        {
            request.AttachInCapsuleBuffer(request.DataLength);
            return true;
        }

        request.State = RequestState.WaitingForBuffer;
        _waitingForBuffer.Enqueue(request);
        if (Interlocked.Increment(ref _waitingCount) == 1)
        {
            // The first to wait registers with the pool, unless a buffer came back meanwhile.
            ResumeWaitingForBuffer();
        }

        return false;
    }

    /// <summary>The pool has a buffer again (any thread): the receive loop resumes the waiting commands.</summary>
    void ICommandBufferWaiter.CommandBufferAvailable() => RequestResume();

    protected override void PooledBufferReturned()
    {
        // Full fence, then the count: a command that starts waiting after this sees the buffer free.
        Interlocked.Decrement(ref _buffersHeld);
        if (Volatile.Read(ref _waitingCount) > 0)
        {
            RequestResume();
        }
    }

    private void RequestResume()
    {
        if (Interlocked.Exchange(ref _resumeRequested, 1) == 0)
        {
            // From a thread pool thread, never from here: with inline socket scheduling the receive
            // loop would go on inside this caller (a sender, perhaps under the output lock).
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    /// <summary>A thread pool thread: wakes the receive loop (<see cref="RequestResume"/>).</summary>
    void IThreadPoolWorkItem.Execute()
    {
        try
        {
            _input.CancelPendingRead();
        }
        catch (InvalidOperationException)
        {
            // The connection has closed meanwhile: nobody waits any more.
        }
    }

    /// <summary>Gives waiting commands buffers, oldest first, while there are some; registers with the pool for the rest. The receive loop.</summary>
    private void ResumeWaitingForBuffer()
    {
        while (_waitingForBuffer.Count > 0)
        {
            if (Volatile.Read(ref _buffersHeld) >= _buffersPerQueue)
            {
                // This queue's share is taken: one of its own commands giving a buffer back resumes it.
                return;
            }

            if (!_buffers!.TryRent(out int slot, this))
            {
                return;
            }

            var request = _waitingForBuffer.Dequeue();
            Interlocked.Decrement(ref _waitingCount);
            Interlocked.Increment(ref _buffersHeld);
            request.AttachPooledBuffer(_buffers, slot);
            ContinueCommand(request);
        }

        // Woken with nothing (left) to wait for: the wake-up belongs to the next waiting queue.
        _buffers?.WakeNextWaiter();
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
            bool resumed = Interlocked.Exchange(ref _resumeRequested, 0) == 1;
            SetReceiveBatch(true);
            try
            {
                if (resumed)
                {
                    // Buffers came back: the commands waiting for them go first (they arrived first).
                    ResumeWaitingForBuffer();
                }

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
            // A cancelled read is a wake-up (RequestResume; one may come after its resume already
            // ran), and the loop goes on, unless this queue asked for the connection to be aborted.
            if (result.IsCompleted || (result.IsCanceled && DisconnectReason is not null))
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
                        var flush = _output.FlushAsync();
                        if (!flush.IsCompleted)
                        {
                            Volatile.Write(ref _flushWaitingSince, _time.GetTimestamp());
                        }

                        var result = await flush.ConfigureAwait(false);
                        Volatile.Write(ref _flushWaitingSince, 0);
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
                SetDisconnectReason("send failed");
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

    /// <summary>A timer thread: a host that has read nothing for so long holds its buffers for nothing, and its connection is closed.</summary>
    private void CheckSendStall()
    {
        long since = Volatile.Read(ref _flushWaitingSince);
        if (since == 0 || _time.GetElapsedTime(since) < Limits.SendStallTimeout || DisconnectReason is not null)
        {
            return;
        }

        Log.SendStalled(Logger, Session.QueueId, Session.ControllerIdForLog, RemoteEndPoint, Limits.SendStallTimeout.TotalSeconds, Volatile.Read(ref _buffersHeld));
        Disconnect($"the host read nothing for {Limits.SendStallTimeout.TotalSeconds:0} s");
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
        _stallCheck?.Dispose();
        lock (_outputLock)
        {
            _outputClosed = true;
        }

        if (_buffers is not null)
        {
            // Waiting commands hold no buffer; a wake-up meant for this queue goes to the next one.
            _buffers.CancelWait(this);
            _waitingForBuffer.Clear();
            Volatile.Write(ref _waitingCount, 0);
            _buffers.WakeNextWaiter();
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
