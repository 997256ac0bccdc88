using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.BlockEngine.Reactors;
using NovaStor.Protocol;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>
/// One NVMe/TCP connection run to completion by one reactor (an io_uring ring, or where io_uring is
/// refused a native AIO reactor with epoll): the reactor thread receives the connection's bytes,
/// frames PDUs, runs the commands through the controller code, submits their disk I/O on the same
/// ring or AIO context, reaps it, and sends every response the iteration produced as one gather
/// send, without handing a command to another thread.
/// </summary>
/// <remarks>
/// <para><b>Ownership.</b> Everything here (the receive buffer, the two output batches, the command
/// slots, the state) belongs to the reactor thread. Other threads reach the queue only through
/// <see cref="Complete"/> (a completion from another thread is posted to the reactor),
/// <see cref="Disconnect"/> (shuts the socket down; the reactor then sees the end of the stream) and
/// <see cref="RunAsync"/> (start, and the task Kestrel waits on).</para>
/// <para><b>Receive.</b> One recv is always armed (while the queue runs) into the free end of a
/// 256 KiB buffer; whole PDUs are handled in place and the tail of a partial one is moved to the
/// front only when the space left could not hold a largest PDU. In-capsule data and small H2CData
/// are copied once, from this buffer into the command's registered buffer; the payload of a large
/// H2CData (16 KiB or more still to come once its header is in) is received straight into the
/// command's buffer (MSG_WAITALL), its data digest checked there: no copy at all.</para>
/// <para><b>Send.</b> Responses are written into the filling batch (headers in its arena, read data
/// referenced in the command's buffer); before the reactor next enters the kernel the batch goes out
/// as one sendmsg. One batch is in flight at a time, so PDUs leave in order; a short send is resumed
/// with the rest. A command's slot returns to the table only once the batch that carries its
/// response has left (its buffer is read by the send), so the table has twice the queue's entries.</para>
/// <para><b>Backpressure.</b> A full socket keeps the batch in flight; responses accumulate in the
/// other one, bounded by the queue depth. A full ring parks the reactor's operations. Neither
/// affects another connection.</para>
/// </remarks>
internal sealed class ReactorQueue : NvmeTcpQueue, IReactorStream, ICommandBufferWaiter
{
    private const ulong MessageKindMask = 0xFFFF_FFFF_0000_0000;
    private const ulong MessageStart = 1UL << 32;
    private const ulong MessageComplete = 2UL << 32;
    private const ulong MessageCheckClosed = 3UL << 32;
    private const ulong MessageBufferAvailable = 4UL << 32;
    private const ulong MessageCheckSendStall = 5UL << 32;
    private const int ECANCELED = 125;

    /// <summary>An H2CData payload with at least this much still to come is received straight into its command's buffer.</summary>
    private const int DirectDataThreshold = 16 * 1024;

    private readonly IStreamReactor _reactor;
    private readonly Socket _socket;
    private readonly int _fd;
    private readonly byte[] _receiveBuffer;
    private readonly nint _receiveAddress;
    private readonly int _largestPdu;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Reactor thread only.
    private int _head;
    private int _tail;
    private bool _receiving;
    private OutputBatch _filling = new();
    private OutputBatch _sending = new();
    private bool _sendInFlight;
    private bool _flushRequested;
    private QueueState _state = QueueState.Created;

    // Commands waiting, in arrival order, for a data buffer of the reactor's bounded pool; while
    // any waits, this queue is registered (once) with the pool to be told when one comes back.
    private readonly CommandBufferPool? _buffers;
    private readonly Queue<NvmeRequest> _waitingForBuffer = new();
    private readonly int _buffersPerQueue;
    private int _buffersHeld;

    // When the send in flight started or last moved; a timer checks it (SendStallTimeout).
    private readonly TimeProvider _time;
    private long _sendProgressAt;
    private ITimer? _stallCheck;

    // A large H2CData payload being received straight into its command's buffer (no copy).
    private DirectData _direct;
    private int _directFilled;
    private bool _directDigestNext;

    private enum QueueState
    {
        /// <summary>Built on an accept thread; waiting for the reactor to take it.</summary>
        Created,
        /// <summary>Receiving and answering.</summary>
        Running,
        /// <summary>A fatal PDU: the C2HTermReq is going out after what was already queued; nothing more is received.</summary>
        Terminating,
        /// <summary>Leaving: waiting for the receive, the send and the engine requests in flight to finish.</summary>
        Closing,
        /// <summary>Done: buffers freed, Kestrel told.</summary>
        Closed,
    }

    public ReactorQueue(Socket socket, IStreamReactor reactor, EngineLane lane, SubsystemRegistry registry, TargetLimits limits, TimeProvider time, ILogger logger)
        : base(registry, limits, time, logger, lane, socket.LocalEndPoint, socket.RemoteEndPoint?.ToString() ?? "unknown",
            2 * Math.Max(limits.MaxQueueEntries, limits.MaxAdminQueueEntries))
    {
        _socket = socket;
        _reactor = reactor;
        // The descriptor must outlive every operation the ring holds on it: the socket is disposed
        // only after RunAsync completes, which waits for them; the extra reference makes sure.
        bool added = false;
        socket.SafeHandle.DangerousAddRef(ref added);
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        _largestPdu = PduSizes.CapsuleCommandHeader + (2 * PduSizes.Digest) + Math.Max(Math.Max(limits.InCapsuleDataSize, limits.AdminInCapsuleDataSize), limits.MaxH2CData);
        _receiveBuffer = GC.AllocateUninitializedArray<byte>((2 * _largestPdu) + 4096, pinned: true);
        _receiveAddress = AddressOf(_receiveBuffer);
        _buffers = lane.CommandBuffers is { } pool && pool.BufferBytes >= limits.MaxTransferBytes ? pool : null;
        _buffersPerQueue = Math.Max(1, limits.MaxBuffersPerQueue);
        _time = time;
    }

    /// <summary>Hands the connection to its reactor; completes when it has closed and freed its buffers.</summary>
    public async Task RunAsync(ConnectionContext connection)
    {
        // Kestrel asks each connection to close when the target stops: an NVMe/TCP queue has no
        // graceful close of its own, so it ends at once (the host reconnects after a restart).
        var closeRequested = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? CancellationToken.None;
        using var stopping = closeRequested.Register(static state => ((ReactorQueue)state!).Disconnect("target stopping"), this);
        if (!_reactor.Post(this, MessageStart))
        {
            SetDisconnectReason("the reactor has stopped");
            FreeBuffers();
            Closed();
            return;
        }

        await _closed.Task.ConfigureAwait(false);
    }

    /// <summary>Sends the response in this iteration's batch; from another thread, posted to the reactor first.</summary>
    public override void Complete(NvmeRequest request)
    {
        if (_reactor.IsCurrentThread)
        {
            CompleteOnReactor(request);
        }
        else if (!_reactor.Post(this, MessageComplete | request.Slot))
        {
            // The reactor is gone (the target is stopping): nothing will be sent.
            ResponseWritten();
            Release(request);
        }
    }

    /// <summary>Any thread: the reactor sees the end of the stream and closes the queue.</summary>
    public override void Disconnect(string reason)
    {
        SetDisconnectReason(reason);
        ShutdownSocket();
    }

    protected override void SendInitializeResponse(in InitializeConnectionResponse response)
    {
        response.WriteTo(_filling.Reserve(PduSizes.InitializeConnection));
        _filling.Commit(PduSizes.InitializeConnection);
        RequestFlush();
    }

    protected override void SendReadyToTransfer(NvmeRequest request)
    {
        _filling.Commit(WriteReadyToTransfer(_filling.Reserve(PduWriter.MaxHeaderWithDigest), request));
        RequestFlush();
    }

    void IReactorStream.OnPosted(ulong message)
    {
        try
        {
            switch (message & MessageKindMask)
            {
                case MessageStart:
                    _state = QueueState.Running;
                    StartStallCheck();
                    ArmReceive();
                    break;
                case MessageCheckSendStall:
                    CheckSendStall();
                    break;
                case MessageComplete when Requests[(int)(message & 0xFFFF)] is { } request:
                    CompleteOnReactor(request);
                    break;
                case MessageCheckClosed:
                    TryFinishClose();
                    break;
                case MessageBufferAvailable:
                    ResumeWaitingForBuffer();
                    break;
            }
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    void IReactorStream.OnReceived(int result)
    {
        _receiving = false;
        try
        {
            if (_state != QueueState.Running)
            {
                TryFinishClose();
                return;
            }

            if (result <= 0)
            {
                BeginClose(result == 0 || result == -ECANCELED ? "connection closed" : $"receive failed: {Errno.Describe(-result)}");
                return;
            }

            if (_direct.Request is not null && !_directDigestNext)
            {
                DirectDataReceived(result);
                return;
            }

            _tail += result;
            if (_directDigestNext && !TryFinishDirectDigest())
            {
                ArmReceive(); // the rest of the 4-byte digest
                return;
            }

            HandleReceived();
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    /// <summary>Handles the whole PDUs in the buffer, then receives more (into the buffer, or straight into a command's).</summary>
    private void HandleReceived()
    {
        long consumed = ProcessReceived(new ReadOnlySequence<byte>(_receiveBuffer, _head, _tail - _head), out var fatal);
        _head += (int)consumed;
        if (fatal is { } error)
        {
            Terminate(error);
            return;
        }

        if (_state != QueueState.Running || TryStartDirectData())
        {
            return;
        }

        KeepRoomForLargestPdu();
        ArmReceive();
    }

    /// <summary>
    /// When the buffer ends with the header of an H2CData PDU whose payload is mostly still to come:
    /// the part already here is copied to the command's buffer and the rest received straight into it.
    /// </summary>
    private bool TryStartDirectData()
    {
        int partial = _tail - _head;
        if (partial < PduSizes.CommonHeader || _receiveBuffer[_head] != (byte)PduType.HostToControllerData
            || BinaryPrimitives.ReadUInt32LittleEndian(_receiveBuffer.AsSpan(_head + 4)) - (uint)partial < DirectDataThreshold)
        {
            return false;
        }

        var status = TryBeginDirectData(new ReadOnlySequence<byte>(_receiveBuffer, _head, partial), out var direct, out var fatal);
        if (status == FrameStatus.Fatal)
        {
            Terminate(fatal!.Value);
            return true;
        }

        int here = partial - direct.DataOffset;
        if (status != FrameStatus.Complete || here < 0 || here >= direct.DataLength)
        {
            return false; // the header (or its padding) is not all here yet, or the data is: buffer as usual
        }

        var request = direct.Request;
        _receiveBuffer.AsSpan(_head + direct.DataOffset, here).CopyTo(request.Buffer.Span[request.ReceivedLength..]);
        _head = _tail = 0;
        _direct = direct;
        _directFilled = here;
        ArmDirectReceive();
        return true;
    }

    private void ArmDirectReceive()
    {
        var request = _direct.Request;
        nint at = request.Buffer.AddressAt(request.ReceivedLength + _directFilled);
        if (_reactor.Receive(this, _fd, at, _direct.DataLength - _directFilled, waitAll: true))
        {
            _receiving = true;
        }
        else
        {
            BeginClose("the reactor has stopped");
        }
    }

    private void DirectDataReceived(int result)
    {
        _directFilled += result;
        if (_directFilled < _direct.DataLength)
        {
            ArmDirectReceive(); // MSG_WAITALL ends early only at a signal or the end of the stream
            return;
        }

        if (_direct.HasDigest)
        {
            _directDigestNext = true; // the data digest is the next 4 bytes of the stream
            ArmReceive();
            return;
        }

        FinishDirectData(dataDigestValid: true);
        HandleReceived();
    }

    private bool TryFinishDirectDigest()
    {
        if (_tail - _head < PduSizes.Digest)
        {
            return false;
        }

        uint received = BinaryPrimitives.ReadUInt32LittleEndian(_receiveBuffer.AsSpan(_head));
        _head += PduSizes.Digest;
        var request = _direct.Request;
        bool valid = received == Crc32C.Compute(request.Buffer.Span.Slice(request.ReceivedLength, _direct.DataLength));
        _directDigestNext = false;
        FinishDirectData(valid);
        return true;
    }

    private void FinishDirectData(bool dataDigestValid)
    {
        var direct = _direct;
        _direct = default;
        _directFilled = 0;
        DataReceived(direct.Request, direct.DataLength, dataDigestValid);
    }

    void IReactorStream.OnSent(int result)
    {
        try
        {
            if (result < 0)
            {
                _sendInFlight = false;
                ReleaseHeld(_sending);
                BeginClose($"send failed: {Errno.Describe(-result)}");
                TryFinishClose();
                return;
            }

            _sending.Gather.Consume(result);
            if (result > 0)
            {
                _sendProgressAt = _time.GetTimestamp();
            }

            if (!_sending.Gather.IsEmpty)
            {
                // A short send: the rest goes next, before anything else, so PDUs stay in order.
                if (!_reactor.Send(this, _fd, _sending.Gather))
                {
                    _sendInFlight = false;
                    ReleaseHeld(_sending);
                    BeginClose("the reactor has stopped");
                }

                return;
            }

            _sendInFlight = false;
            ReleaseHeld(_sending);
            if (_state == QueueState.Terminating && _filling.IsEmpty)
            {
                // The C2HTermReq has left: end the connection.
                ShutdownSocket();
                BeginClose("fatal transport error");
            }

            Flush();
            TryFinishClose();
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    void IReactorStream.BeforeSubmit()
    {
        _flushRequested = false;
        try
        {
            Flush();
            TryFinishClose();
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    private void CompleteOnReactor(NvmeRequest request)
    {
        ResponseWritten();
        if (_state is not QueueState.Running)
        {
            // Closing, or a C2HTermReq went out: no response follows it.
            Release(request);
            return;
        }

        WriteResponse(_filling, request);
        RequestFlush();
    }

    private void RequestFlush()
    {
        if (!_flushRequested && _state != QueueState.Closed)
        {
            _flushRequested = true;
            _reactor.RequestBeforeSubmit(this);
        }
    }

    /// <summary>Sends the filling batch unless one is in flight (its completion sends this one).</summary>
    private void Flush()
    {
        if (_sendInFlight || _filling.IsEmpty || _state is QueueState.Closing or QueueState.Closed)
        {
            return;
        }

        (_filling, _sending) = (_sending, _filling);
        _sending.Seal();
        if (_reactor.Send(this, _fd, _sending.Gather))
        {
            _sendInFlight = true;
            _sendProgressAt = _time.GetTimestamp();
        }
        else
        {
            ReleaseHeld(_sending);
            BeginClose("the reactor has stopped");
        }
    }

    private void ArmReceive()
    {
        int room = _receiveBuffer.Length - _tail;
        if (room <= 0)
        {
            // Cannot happen: KeepRoomForLargestPdu leaves room for any PDU the rules allow.
            BeginClose("receive buffer full");
            return;
        }

        if (_reactor.Receive(this, _fd, _receiveAddress + _tail, room))
        {
            _receiving = true;
        }
        else
        {
            BeginClose("the reactor has stopped");
        }
    }

    /// <summary>Moves a partial PDU to the front when the space after it could not hold the largest one.</summary>
    private void KeepRoomForLargestPdu()
    {
        if (_head == _tail)
        {
            _head = _tail = 0;
        }
        else if (_receiveBuffer.Length - _head < _largestPdu)
        {
            _receiveBuffer.AsSpan(_head, _tail - _head).CopyTo(_receiveBuffer);
            _tail -= _head;
            _head = 0;
        }
    }

    /// <summary>A fatal PDU: what is queued goes first, then the C2HTermReq; nothing more is received.</summary>
    private void Terminate(in FatalPdu fatal)
    {
        _filling.Commit(WriteTermination(_filling.Reserve(PduSizes.TerminationRequestMax), fatal.Error, fatal.OffendingHeader));
        _state = QueueState.Terminating;
        RequestFlush();
    }

    /// <summary>
    /// A command that moves data takes a buffer of the reactor's pool; with none free it waits in
    /// this queue's line (and so does every later one, in order), except in-capsule data, which is
    /// already here: it goes to the slot's own 8 KiB buffer.
    /// </summary>
    protected override bool AcquireBuffer(NvmeRequest request, bool inCapsuleData)
    {
        if (_buffers is null)
        {
            return true;
        }

        if (_waitingForBuffer.Count == 0 && _buffersHeld < _buffersPerQueue && _buffers.TryRent(out int slot))
        {
            _buffersHeld++;
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
        if (_waitingForBuffer.Count == 1)
        {
            // Registers this queue with the pool, unless a buffer came back meanwhile.
            ResumeWaitingForBuffer();
        }

        return false;
    }

    /// <summary>The pool has a buffer again (any thread): the waiting commands go on, on the reactor.</summary>
    void ICommandBufferWaiter.CommandBufferAvailable()
    {
        // Always posted, also from the reactor itself: a wake-up passed from queue to queue then
        // never nests one queue's resumption inside another's.
        if (!_reactor.Post(this, MessageBufferAvailable))
        {
            // The reactor is gone: the queue is closing; let the next waiter have the buffer.
            _buffers?.WakeNextWaiter();
        }
    }

    /// <summary>Gives waiting commands buffers, oldest first, while the pool has some; registers with it for the rest.</summary>
    private void ResumeWaitingForBuffer()
    {
        if (_buffers is null)
        {
            return;
        }

        while (_waitingForBuffer.Count > 0)
        {
            if (_state != QueueState.Running)
            {
                _waitingForBuffer.Clear();
                break;
            }

            if (_buffersHeld >= _buffersPerQueue)
            {
                // This queue's share is taken: one of its own commands giving a buffer back resumes it.
                return;
            }

            if (!_buffers.TryRent(out int slot, this))
            {
                return;
            }

            var request = _waitingForBuffer.Dequeue();
            _buffersHeld++;
            request.AttachPooledBuffer(_buffers, slot);
            ContinueCommand(request);
        }

        // Woken with nothing (left) to wait for: the wake-up belongs to the next waiting queue.
        _buffers.WakeNextWaiter();
    }

    protected override void PooledBufferReturned()
    {
        _buffersHeld--;
        if (_waitingForBuffer.Count > 0 && !_reactor.Post(this, MessageBufferAvailable))
        {
            _waitingForBuffer.Clear();
        }
    }

    /// <summary>Checks a few times per <see cref="TargetLimits.SendStallTimeout"/> that a pending send moves.</summary>
    private void StartStallCheck()
    {
        var period = Limits.SendStallTimeout / 3;
        _stallCheck = _time.CreateTimer(static state =>
        {
            var queue = (ReactorQueue)state!;
            queue._reactor.Post(queue, MessageCheckSendStall);
        }, this, period, period);
    }

    /// <summary>A host that has stopped reading its socket holds its buffers for nothing: its queue is closed.</summary>
    private void CheckSendStall()
    {
        if (_state != QueueState.Running || !_sendInFlight || _time.GetElapsedTime(_sendProgressAt) < Limits.SendStallTimeout)
        {
            return;
        }

        Log.SendStalled(Logger, Session.QueueId, Session.ControllerIdForLog, RemoteEndPoint, Limits.SendStallTimeout.TotalSeconds, _buffersHeld);
        ShutdownSocket();
        BeginClose($"the host read nothing for {Limits.SendStallTimeout.TotalSeconds:0} s");
    }

    private void BeginClose(string reason)
    {
        if (_state is QueueState.Closing or QueueState.Closed)
        {
            return;
        }

        _state = QueueState.Closing;
        _stallCheck?.Dispose();
        if (_buffers is not null)
        {
            _buffers.CancelWait(this);
            _waitingForBuffer.Clear();
            _buffers.WakeNextWaiter();
        }

        SetDisconnectReason(reason);
        Session.Close();
        Closed();
        ShutdownSocket(); // a receive or send still in flight ends now
        ReleaseHeld(_filling);

        // Engine requests still use this queue's buffers: the last one to finish wakes the close.
        Session.NotifyWhenEngineIdle(() =>
        {
            if (!_reactor.Post(this, MessageCheckClosed))
            {
                _closed.TrySetResult(); // the reactor is gone with its ring: nothing can still write the buffers
            }
        });
        TryFinishClose();
    }

    private void TryFinishClose()
    {
        if (_state != QueueState.Closing || _receiving || _sendInFlight || Session.EngineRequestsInFlight > 0)
        {
            return;
        }

        _state = QueueState.Closed;
        FreeBuffers();
        _closed.TrySetResult();
    }

    private void FreeBuffers()
    {
        _socket.SafeHandle.DangerousRelease();
        Requests.Dispose();
        _filling.Dispose();
        _sending.Dispose();
    }

    /// <summary>A bug of ours inside a callback: log it and end this connection only.</summary>
    private void Fail(Exception ex)
    {
        Log.QueueFailed(Logger, ex, Session.QueueId, Session.ControllerIdForLog, RemoteEndPoint);
        if (_sendInFlight)
        {
            ShutdownSocket();
        }

        BeginClose("internal error");
    }

    /// <summary>The address of a pinned array's first element (it never moves).</summary>
    private static unsafe nint AddressOf(byte[] pinned) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    private void ShutdownSocket()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already shut down, or the connection is gone.
        }
    }
}
