using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NovaStor.Protocol;
using static NovaStor.Initiator.Transport.LinuxSocketNative;

namespace NovaStor.Initiator.Transport;

/// <summary>
/// The Linux path: one dedicated thread per queue ("novastor-host-qN") connects, receives into
/// a large buffer of its own, frames and handles PDUs (C2HData copied into the caller's buffer,
/// R2Ts answered at once, slots completed inline), and flushes what it and the continuations
/// it ran queued to send: one <c>sendmsg</c> per receive batch. Other threads send their PDUs
/// themselves, under the send lock, straight from the caller's memory.
/// </summary>
/// <remarks>
/// <para>
/// The thread polls its socket with non-blocking receives for a short budget learnt from the
/// waits it catches (<see cref="SpinBudget"/>), then sleeps in <c>poll</c> on the socket and on an
/// eventfd that other threads write only when they need it to look again: a send the socket did not take whole,
/// a cancelled connect. A short send or a full socket buffer leaves the rest in
/// <see cref="PendingSends"/>, in order; the thread finishes it when <c>poll</c> reports POLLOUT,
/// and keeps receiving meanwhile, so a full send buffer never stalls the receive side. Nobody
/// ever waits on the socket while holding the send lock.
/// </para>
/// <para>
/// .NET never performs an async call on this socket (that would register it with the runtime's
/// epoll thread); after a sync non-blocking connect, all I/O goes through
/// <see cref="LinuxSocketNative"/>. The thread holds a reference on the socket handle while it
/// runs, so the descriptor cannot be closed (and reused) under it.
/// </para>
/// </remarks>
internal sealed partial class LinuxSocketTransport : QueueTransport
{
    /// <summary>Receive buffer: many PDUs per <c>recv</c>; grows for a PDU larger than it.</summary>
    private const int ReceiveBufferBytes = 256 * 1024;

    /// <summary>
    /// A PDU larger than this is refused (the receive buffer would have to hold it); the library
    /// never asks for more than 32 MiB in one command (ControllerAssociation.MaxTransferBytes).
    /// </summary>
    private const int MaxPduBytes = 64 * 1024 * 1024;

    /// <summary>PDUs the queue thread sends with more data than this go out at once rather than wait for the end of its batch.</summary>
    private const int CoalesceLimit = 16 * 1024;

    /// <summary>iovecs per sendmsg: 85 PDUs of header, data and digest.</summary>
    private const int VectorsPerSend = 256;

    private static int s_threads;

    private readonly IPduReceiver _receiver;
    private readonly int _pollMicroseconds;
    private readonly Socket _socket;
    private readonly int _eventFd;
    private readonly Lock _sendLock = new();
    private readonly PendingSends _pending = new(64);
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Thread? _thread;
    private int _threadId = -1;
    private int _fd = -1;
    private byte[] _receiveBuffer = GC.AllocateArray<byte>(ReceiveBufferBytes, pinned: true);
    private int _start;
    private int _end;

    // Queue thread only: true while it hands a receive batch to the protocol side.
    private bool _inBatch;

    // Under _sendLock.
    private bool _sendClosed;
    private bool _drainArmed;
    private TaskCompletionSource? _drained;

    private bool _eventFdClosed;

    private volatile bool _stopping;

    /// <param name="pollMicroseconds">The longest the queue thread polls for an answer before it sleeps (<see cref="SpinBudget"/>).</param>
    public LinuxSocketTransport(IPduReceiver receiver, Socket socket, int pollMicroseconds)
    {
        _receiver = receiver;
        _pollMicroseconds = pollMicroseconds;
        _socket = socket;
        _eventFd = CreateEventFd(out int errno);
        if (_eventFd < 0)
        {
            _socket.Dispose();
            throw new NvmeTransportException($"eventfd failed: {Describe(errno)}");
        }
    }

    public override Task Closed => _closed.Task;

    public override async Task ConnectAsync(EndPoint endPoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _thread = new Thread(() => Run(endPoint, timeout))
        {
            IsBackground = true,
            Name = $"novastor-host-q{Interlocked.Increment(ref s_threads)}",
        };
        _thread.Start();
        using (cancellationToken.UnsafeRegister(static t => ((LinuxSocketTransport)t!).Stop(), this))
        {
            await _connected.Task.ConfigureAwait(false);
        }
    }

    /// <summary>The queue thread: connect, then receive until the connection ends.</summary>
    private void Run(EndPoint endPoint, TimeSpan timeout)
    {
        _threadId = Environment.CurrentManagedThreadId;
        bool referenced = false;
        Exception failure = new NvmeTransportException("connection closed by the controller");
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref referenced);
            _fd = (int)_socket.SafeHandle.DangerousGetHandle();
            Connect(endPoint, timeout);
            _connected.TrySetResult();
            ReceiveLoop();
        }
        catch (NvmeTransportException ex)
        {
            failure = ex;
        }
        catch (Exception ex)
        {
            // Whatever broke (the socket, or code a completion ran inline), the queue ends with a
            // transport error rather than taking the process down from a thread of its own.
            failure = _connected.Task.IsCompleted
                ? new NvmeTransportException($"receiving from the controller failed: {ex.Message}", FatalErrorStatus.None, 0, ex)
                : ex;
        }

        if (!_connected.TrySetException(failure))
        {
            _receiver.OnConnectionFailed(failure);
        }

        CloseSends();
        // The peer learns at once that this connection is over (as after a termination request).
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        if (referenced)
        {
            _socket.SafeHandle.DangerousRelease();
        }

        // The thread owns the socket: closing it anywhere else while this thread holds its
        // handle would wait for this thread (and forever, when called from a continuation here).
        _socket.Dispose();
        CloseEventFd();
        _closed.TrySetResult();
    }

    /// <summary>A sync, non-blocking connect (no async call ever touches this socket), bounded by <paramref name="timeout"/>.</summary>
    private void Connect(EndPoint endPoint, TimeSpan timeout)
    {
        _socket.Blocking = false;
        try
        {
            _socket.Connect(endPoint);
            return;
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress or SocketError.AlreadyInProgress)
        {
        }

        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            if (_stopping)
            {
                throw new OperationCanceledException("the connect was cancelled");
            }

            long left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                throw new TimeoutException($"no connection to {endPoint} within {timeout.TotalSeconds:0.###} s");
            }

            short events = WaitOnce(POLLOUT, (int)Math.Min(left, int.MaxValue));
            if ((events & (POLLOUT | POLLERR | POLLHUP)) != 0)
            {
                break;
            }
        }

        int error = (int)_socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
        if (error != 0)
        {
            throw new SocketException(error);
        }
    }

    private unsafe void ReceiveLoop()
    {
        bool mayHaveMore = false;
        var spin = new SpinBudget(_pollMicroseconds);
        while (!_stopping)
        {
            int free = MakeRoom();
            fixed (byte* buffer = _receiveBuffer)
            {
                nint received;
                int errno;
                if (mayHaveMore)
                {
                    received = ReceiveNow(_fd, buffer + _end, free, out errno);
                }
                else
                {
                    // Spin a little (learnt), then sleep in poll until there is something to read.
                    long start = Stopwatch.GetTimestamp();
                    received = -1;
                    errno = EAGAIN;
                    if (spin.Ticks > 0 && _pending.IsEmpty)
                    {
                        do
                        {
                            received = ReceiveNow(_fd, buffer + _end, free, out errno);
                        }
                        while (received < 0 && errno == EAGAIN && Stopwatch.GetTimestamp() - start < spin.Ticks);
                    }

                    bool caught = received >= 0 || errno != EAGAIN;
                    if (!caught)
                    {
                        WaitToReceive();
                        received = ReceiveNow(_fd, buffer + _end, free, out errno);
                    }

                    spin.Learn(Stopwatch.GetTimestamp() - start, caught);
                }

                if (received == 0)
                {
                    return;
                }

                if (received < 0)
                {
                    if (errno is EAGAIN or EINTR)
                    {
                        mayHaveMore = false;
                        continue;
                    }

                    throw new NvmeTransportException($"receiving from the controller failed: {Describe(errno)}");
                }

                _end += (int)received;
                // A full read suggests more is waiting: read again before sleeping in poll.
                mayHaveMore = received == free;
            }

            HandleBatch();
        }
    }

    /// <summary>Hands the buffered bytes to the protocol side, then sends what the batch queued.</summary>
    private void HandleBatch()
    {
        _inBatch = true;
        try
        {
            long used = _receiver.Receive(new ReadOnlySequence<byte>(_receiveBuffer, _start, _end - _start));
            _start += (int)used;
            if (_start == _end)
            {
                _start = _end = 0;
            }
        }
        finally
        {
            _inBatch = false;
        }

        Flush();
    }

    /// <summary>Free bytes after the buffered ones, after moving a partial PDU to the front or growing for a large one.</summary>
    private int MakeRoom()
    {
        int buffered = _end - _start;
        int needed = PduSizes.CommonHeader;
        if (buffered >= PduSizes.CommonHeader)
        {
            uint length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(_receiveBuffer.AsSpan(_start + PduHeader.PduLengthOffset));
            if (length > MaxPduBytes)
            {
                throw new NvmeTransportException($"PDU of PLEN {length} from the controller is larger than the {MaxPduBytes} bytes this host takes", FatalErrorStatus.DataTransferLimitExceeded, PduHeader.PduLengthOffset);
            }

            needed = (int)Math.Max(length, (uint)PduSizes.CommonHeader);
        }

        if (needed > _receiveBuffer.Length)
        {
            var larger = GC.AllocateArray<byte>(Math.Max(needed, _receiveBuffer.Length * 2), pinned: true);
            _receiveBuffer.AsSpan(_start, buffered).CopyTo(larger);
            _receiveBuffer = larger;
            _start = 0;
            _end = buffered;
        }
        else if (_start > 0 && (_receiveBuffer.Length - _start < needed || _receiveBuffer.Length - _end < _receiveBuffer.Length / 4))
        {
            _receiveBuffer.AsSpan(_start, buffered).CopyTo(_receiveBuffer);
            _start = 0;
            _end = buffered;
        }

        return _receiveBuffer.Length - _end;
    }

    /// <summary>Sleeps in poll until the socket is readable; meanwhile finishes queued sends as the socket takes them.</summary>
    private void WaitToReceive()
    {
        while (true)
        {
            bool wantOut;
            lock (_sendLock)
            {
                wantOut = !_pending.IsEmpty && !_sendClosed;
                _drainArmed = wantOut;
            }

            short events = WaitOnce((short)(POLLIN | (wantOut ? POLLOUT : 0)), -1);
            if ((events & POLLOUT) != 0)
            {
                Flush();
            }

            if ((events & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) != 0 || _stopping)
            {
                return;
            }
        }
    }

    /// <summary>One poll on the socket and the eventfd; the socket's events (0 when only woken or timed out).</summary>
    private unsafe short WaitOnce(short events, int timeoutMs)
    {
        var descriptors = stackalloc PollDescriptor[2];
        descriptors[0] = new PollDescriptor { Descriptor = _fd, Events = events };
        descriptors[1] = new PollDescriptor { Descriptor = _eventFd, Events = POLLIN };
        int ready = Poll(descriptors, 2, timeoutMs, out int errno);
        if (ready < 0)
        {
            if (errno == EINTR)
            {
                return 0;
            }

            throw new NvmeTransportException($"poll on the controller's socket failed: {Describe(errno)}");
        }

        if ((descriptors[1].ReturnedEvents & POLLIN) != 0)
        {
            Drain(_eventFd);
        }

        return descriptors[0].ReturnedEvents;
    }

    public override void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        Stop();
    }

    /// <summary>Tells the queue thread to stop (it is in poll, or about to be).</summary>
    private void Stop()
    {
        _stopping = true;
        lock (_sendLock)
        {
            SignalLocked();
        }
    }

    /// <summary>Wakes the queue thread's poll; under the send lock, which also guards closing the eventfd.</summary>
    private void SignalLocked()
    {
        if (!_eventFdClosed)
        {
            Signal(_eventFd);
        }
    }

    private void CloseEventFd()
    {
        lock (_sendLock)
        {
            if (!_eventFdClosed)
            {
                _eventFdClosed = true;
                LinuxSocketNative.Close(_eventFd);
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        Task drained = Task.CompletedTask;
        lock (_sendLock)
        {
            if (!_pending.IsEmpty && !_sendClosed)
            {
                _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                drained = _drained.Task;
            }
        }

        // Let queued PDUs (a final Disconnect, a shutdown) reach the wire before closing.
        await drained.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        CloseSends();
        Abort();
        if (_thread is null)
        {
            _socket.Dispose();
            CloseEventFd();
        }
        else if (Environment.CurrentManagedThreadId != _threadId)
        {
            // The queue thread ends on the shutdown and closes the socket itself. Called on the
            // queue thread (from an inline continuation), it does so once this call returns.
            await _closed.Task.ConfigureAwait(false);
        }
    }
}
