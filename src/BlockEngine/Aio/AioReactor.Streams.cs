using System.Collections.Concurrent;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine.Aio;

/// <summary>
/// The AIO reactor's streams: where io_uring is refused, a target queue's connection still runs to
/// completion on one thread, its socket driven by epoll beside the AIO eventfd.
/// </summary>
/// <remarks>
/// <para>A Receive or Send is tried (non-blocking recv / sendmsg) in the reactor's next pass, never
/// inside the caller's callback; only when the socket answers EAGAIN does it wait for epoll to say
/// the socket is ready again. Sockets are registered edge-triggered for both directions once, when
/// a stream first uses them: because every operation is tried before it waits, an edge is only
/// ever needed after an EAGAIN, which is exactly when the kernel raises one.</para>
/// <para>A stream's state is indexed by its descriptor and stamped with a generation that goes into
/// the epoll cookie, so a descriptor number reused by a later connection never receives the old
/// one's events. Closing the socket removes it from the epoll set (the kernel does it).</para>
/// </remarks>
public sealed unsafe partial class AioReactor
{
    private const int ECANCELED = 125;
    private const uint ReadEvents = EpollNative.EPOLLIN | EpollNative.EPOLLERR | EpollNative.EPOLLHUP | EpollNative.EPOLLRDHUP;
    private const uint WriteEvents = EpollNative.EPOLLOUT | EpollNative.EPOLLERR | EpollNative.EPOLLHUP;

    private readonly ConcurrentQueue<(IReactorStream Stream, ulong Message)> _messages = new();

    // Reactor-thread state.
    private StreamState?[] _streams = new StreamState?[256];
    private List<StreamState> _ready = new(16);
    private List<StreamState> _running = new(16);
    private List<IReactorStream> _beforeSubmit = new(16);
    private List<IReactorStream> _beforeSubmitRunning = new(16);
    private uint _generation;

    private bool HasReadyStreams => _ready.Count > 0;

    public bool Receive(IReactorStream stream, int fd, nint buffer, int length, bool waitAll = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ThrowIfNotReactorThread();
        if (Volatile.Read(ref _stopped) != 0)
        {
            return false;
        }

        StreamState state = StateFor(stream, fd);
        if (state.ReceivePending)
        {
            throw new InvalidOperationException($"{Name}: a receive is already pending on descriptor {fd}.");
        }
        state.ReceiveBuffer = buffer;
        state.ReceiveLength = length;
        state.Received = 0;
        state.WaitAll = waitAll;
        state.ReceivePending = true;
        MarkReady(state);
        return true;
    }

    public bool Send(IReactorStream stream, int fd, GatherList pieces)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(pieces);
        ThrowIfNotReactorThread();
        if (pieces.IsEmpty)
        {
            throw new ArgumentException("Nothing to send.", nameof(pieces));
        }
        if (Volatile.Read(ref _stopped) != 0)
        {
            return false;
        }

        StreamState state = StateFor(stream, fd);
        if (state.SendPending)
        {
            throw new InvalidOperationException($"{Name}: a send is already pending on descriptor {fd}.");
        }
        state.SendMessage = pieces.PrepareMessage();
        state.SendPending = true;
        MarkReady(state);
        return true;
    }

    public bool Post(IReactorStream stream, ulong message)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Interlocked.Increment(ref _accepted);
        if (Volatile.Read(ref _stopped) != 0)
        {
            Interlocked.Decrement(ref _accepted);
            return false;
        }

        _messages.Enqueue((stream, message));
        if (!IsCurrentThread)
        {
            Wake();
        }
        return true;
    }

    public void RequestBeforeSubmit(IReactorStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfNotReactorThread();
        _beforeSubmit.Add(stream);
    }

    private void ThrowIfNotReactorThread()
    {
        if (!IsCurrentThread)
        {
            throw new InvalidOperationException($"{Name}: stream operations are made on the reactor's own thread.");
        }
    }

    /// <summary>The stream's state, registered with epoll the first time this stream uses the descriptor.</summary>
    private StreamState StateFor(IReactorStream stream, int fd)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        if (fd >= _streams.Length)
        {
            Array.Resize(ref _streams, Math.Max(fd + 1, _streams.Length * 2));
        }

        StreamState? state = _streams[fd];
        if (state is not null && ReferenceEquals(state.Stream, stream))
        {
            return state;
        }

        state ??= new StreamState();
        state.Stream = stream;
        state.Fd = fd;
        state.Generation = ++_generation;
        state.ReceivePending = false;
        state.SendPending = false;
        state.Ended = false;
        ulong cookie = ((ulong)state.Generation << 32) | (uint)fd;
        const uint Events = EpollNative.EPOLLIN | EpollNative.EPOLLOUT | EpollNative.EPOLLRDHUP | EpollNative.EPOLLET;
        int errno = EpollNative.Control(_epollFd, EpollNative.EPOLL_CTL_ADD, fd, Events, cookie);
        if (errno == Errno.EEXIST)
        {
            errno = EpollNative.Control(_epollFd, EpollNative.EPOLL_CTL_MOD, fd, Events, cookie);
        }
        if (errno != 0)
        {
            throw new IOException($"{Name}: epoll_ctl on descriptor {fd} failed with {IoUringNative.DescribeErrno(errno)}.");
        }

        _streams[fd] = state;
        return state;
    }

    private void MarkReady(StreamState state)
    {
        if (!state.Ready)
        {
            state.Ready = true;
            _ready.Add(state);
        }
    }

    /// <summary>epoll said the socket behind <paramref name="cookie"/> is ready: retry what waits on it.</summary>
    private void StreamReady(ulong cookie, uint events)
    {
        int fd = (int)(uint)cookie;
        StreamState? state = fd < _streams.Length ? _streams[fd] : null;
        if (state is null || state.Generation != (uint)(cookie >> 32))
        {
            return; // a connection that has gone; its descriptor number may be reused
        }

        if ((state.ReceivePending && (events & ReadEvents) != 0) || (state.SendPending && (events & WriteEvents) != 0))
        {
            MarkReady(state);
        }
    }

    /// <summary>Tries the receives and sends of the streams marked ready before this pass.</summary>
    private int RunReadyStreams()
    {
        if (_ready.Count == 0)
        {
            return 0;
        }

        (_ready, _running) = (_running, _ready);
        int delivered = 0;
        foreach (StreamState state in _running)
        {
            state.Ready = false;
            delivered += TrySend(state) + TryReceive(state);
        }
        _running.Clear();
        return delivered;
    }

    private int TryReceive(StreamState state)
    {
        if (!state.ReceivePending)
        {
            return 0;
        }

        int result;
        while (true)
        {
            int received = EpollNative.Receive(state.Fd, state.ReceiveBuffer + state.Received, state.ReceiveLength - state.Received);
            if (received == -Errno.EAGAIN)
            {
                return 0; // epoll raises an edge when more arrives
            }

            if (received > 0)
            {
                state.Received += received;
                if (state.WaitAll && state.Received < state.ReceiveLength)
                {
                    continue;
                }
                result = state.Received;
            }
            else
            {
                // The end of the stream (0) or an error: what arrived first still counts.
                result = state.Received > 0 ? state.Received : received;
            }
            break;
        }

        state.ReceivePending = false;
        state.Ended |= result <= 0;
        try
        {
            state.Stream!.OnReceived(result);
        }
        catch (Exception e)
        {
            AioLog.HandlerThrew(_logger, Name, e);
        }
        ForgetIfDone(state);
        return 1;
    }

    private int TrySend(StreamState state)
    {
        if (!state.SendPending)
        {
            return 0;
        }

        int sent = EpollNative.SendMessage(state.Fd, state.SendMessage);
        if (sent == -Errno.EAGAIN)
        {
            return 0; // epoll raises an edge when the socket has room again
        }

        state.SendPending = false;
        try
        {
            state.Stream!.OnSent(sent);
        }
        catch (Exception e)
        {
            AioLog.HandlerThrew(_logger, Name, e);
        }
        ForgetIfDone(state);
        return 1;
    }

    /// <summary>
    /// A stream whose receive saw the end (or an error) and that has nothing pending is on its way
    /// out: its state lets go of it, so a closed queue and its buffers are not kept alive until the
    /// descriptor number is reused. A late operation of the same stream registers it again.
    /// </summary>
    private void ForgetIfDone(StreamState state)
    {
        if (state.Ended && !state.ReceivePending && !state.SendPending && ReferenceEquals(_streams[state.Fd], state))
        {
            _streams[state.Fd] = null;
            state.Stream = null;
        }
    }

    private int DrainMessages()
    {
        int delivered = 0;
        while (_messages.TryDequeue(out (IReactorStream Stream, ulong Message) posted))
        {
            try
            {
                posted.Stream.OnPosted(posted.Message);
            }
            catch (Exception e)
            {
                AioLog.HandlerThrew(_logger, Name, e);
            }
            finally
            {
                Interlocked.Decrement(ref _accepted);
            }
            delivered++;
        }
        return delivered;
    }

    private int RunBeforeSubmit()
    {
        if (_beforeSubmit.Count == 0)
        {
            return 0;
        }

        (_beforeSubmit, _beforeSubmitRunning) = (_beforeSubmitRunning, _beforeSubmit);
        int count = _beforeSubmitRunning.Count;
        foreach (IReactorStream stream in _beforeSubmitRunning)
        {
            try
            {
                stream.BeforeSubmit();
            }
            catch (Exception e)
            {
                AioLog.HandlerThrew(_logger, Name, e);
            }
        }
        _beforeSubmitRunning.Clear();
        return count;
    }

    /// <summary>The reactor is stopping: receives and sends still waiting end with ECANCELED.</summary>
    private void CancelStreams()
    {
        foreach (StreamState? state in _streams)
        {
            if (state is null)
            {
                continue;
            }

            if (state.SendPending)
            {
                state.SendPending = false;
                try
                {
                    state.Stream!.OnSent(-ECANCELED);
                }
                catch (Exception e)
                {
                    AioLog.HandlerThrew(_logger, Name, e);
                }
            }

            if (state.ReceivePending)
            {
                state.ReceivePending = false;
                try
                {
                    state.Stream!.OnReceived(-ECANCELED);
                }
                catch (Exception e)
                {
                    AioLog.HandlerThrew(_logger, Name, e);
                }
            }
        }
    }

    private sealed class StreamState
    {
        public IReactorStream? Stream;
        public int Fd;
        public uint Generation;
        public bool Ready;
        public bool Ended;
        public bool ReceivePending;
        public nint ReceiveBuffer;
        public int ReceiveLength;
        public int Received;
        public bool WaitAll;
        public bool SendPending;
        public nint SendMessage;
    }
}
