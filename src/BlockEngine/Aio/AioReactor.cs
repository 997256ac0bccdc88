using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine.Aio;

/// <summary>
/// One Linux native AIO context with its completion thread ("novastor-aio-N") and a worker thread
/// for the calls AIO does not offer: the engine of hosts where io_uring is refused (default
/// container seccomp profiles, <c>kernel.io_uring_disabled</c>), as SPDK's aio bdev is.
/// </summary>
/// <remarks>
/// <para><b>Submission</b> happens on the submitting thread: io_submit is thread safe, and the
/// kernel copies the iocb during the call, so a request costs one system call and no hand-off
/// (a target queue's thread, or the reactor itself when a completion handler submits the next
/// request). The request waits in a slot of the reactor's table (its index is the iocb's
/// aio_data); slots are taken and returned through a lock-free stack.</para>
/// <para><b>Completion.</b> Every iocb carries IOCB_FLAG_RESFD with the reactor's eventfd, which
/// sits in the reactor's epoll set with its streams' sockets: the reactor sleeps in one
/// epoll_wait, wakes when the kernel completes a request, a socket becomes ready, or something is
/// posted, reaps with a non-blocking io_getevents and calls the volume's handler on its own
/// thread. A short read or write continues from where it stopped.</para>
/// <para><b>Streams</b> (a target queue's connection, run to completion as on the io_uring
/// reactors): see <c>AioReactor.Streams.cs</c>.</para>
/// <para><b>Backpressure.</b> With every slot in use, or io_submit answering EAGAIN, a request
/// waits in a queue the reactor drains as completions free room: a full context delays requests,
/// it never fails them.</para>
/// <para><b>Blocking calls</b> (fallocate, BLKZEROOUT, BLKDISCARD, and fdatasync where the kernel's
/// AIO lacks FDSYNC) run on the reactor's own worker thread, never on the reactor, the
/// target's socket threads or the thread pool; their outcome comes back through the reactor.</para>
/// </remarks>
public sealed unsafe partial class AioReactor : IStreamReactor, IDisposable
{
    private const int ReapBatch = 128;
    private const int EpollBatch = 64;
    private const ulong WakeCookie = ulong.MaxValue;

    private readonly ILogger _logger;
    private readonly nint _context;
    private readonly int _eventFd;
    private readonly int _epollFd;
    private readonly byte* _epollEvents;
    private readonly AioOperation[] _slots;
    private readonly SlotFreeList _free;
    private readonly IoEvent* _events;
    private readonly ConcurrentQueue<AioOperation> _posted = new();
    private readonly ConcurrentQueue<AioOperation> _waitingForSlot = new();
    private readonly ConcurrentQueue<int> _retry = new();
    private readonly ConcurrentQueue<AioOperation> _blocking = new();
    private readonly SemaphoreSlim _blockingReady = new(0);
    private readonly Thread _thread;
    private readonly Thread _worker;
    private readonly bool _pin;
    private readonly int _index;
    private readonly ManualResetEventSlim _started = new();
    private int _threadId;
    private int _osThreadId;
    private SpinBeforeSleep _spin;

    // Operations accepted and not yet delivered; the reactor stops only when it is zero.
    private int _accepted;
    private int _stopping;
    private int _stopped;
    private int _workerStopping;
    private int _disposed;

    /// <summary>Creates the AIO context and starts the reactor and worker threads.</summary>
    /// <param name="index">N in the thread names; also which allowed CPU a pinned reactor runs on.</param>
    /// <param name="capacity">Requests the context holds in flight (io_setup's nr_events); more wait.</param>
    /// <param name="pinToCpu">Pin the thread with sched_setaffinity (a failure is logged, not fatal).</param>
    /// <param name="logger">Where start, pinning and failures are logged.</param>
    /// <param name="pollMicroseconds">The longest the reactor polls before sleeping (<see cref="SpinBeforeSleep"/>); 0 never polls.</param>
    /// <exception cref="IOException">io_setup or eventfd failed (the message says why).</exception>
    public AioReactor(int index, int capacity = 1024, bool pinToCpu = false, ILogger? logger = null,
        int pollMicroseconds = ReactorPoolOptions.DefaultPollMicroseconds)
    {
        _spin = new SpinBeforeSleep(pollMicroseconds);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _index = index;
        _pin = pinToCpu;
        _logger = logger ?? NullLogger.Instance;
        Name = $"novastor-aio-{index}";

        int errno = AioNative.Setup((uint)capacity, out _context);
        if (errno != 0)
        {
            throw new IOException($"Linux native AIO cannot be set up: io_setup({capacity}) failed with {IoUringNative.DescribeErrno(errno)}.");
        }

        _eventFd = ReactorNative.CreateEventFd(nonBlocking: true, out errno);
        if (_eventFd < 0)
        {
            _ = AioNative.Destroy(_context);
            throw new IOException($"{Name}: eventfd failed with {IoUringNative.DescribeErrno(errno)}.");
        }

        _epollFd = EpollNative.Create();
        errno = _epollFd < 0 ? -_epollFd : EpollNative.Control(_epollFd, EpollNative.EPOLL_CTL_ADD, _eventFd, EpollNative.EPOLLIN, WakeCookie);
        if (errno != 0)
        {
            _ = Native.Libc.Close(_eventFd);
            if (_epollFd >= 0)
            {
                _ = Native.Libc.Close(_epollFd);
            }
            _ = AioNative.Destroy(_context);
            throw new IOException($"{Name}: epoll failed with {IoUringNative.DescribeErrno(errno)}.");
        }

        _slots = new AioOperation[capacity];
        _free = new SlotFreeList(capacity);
        _events = (IoEvent*)NativeMemory.AllocZeroed((nuint)(ReapBatch * sizeof(IoEvent)));
        _epollEvents = (byte*)NativeMemory.AllocZeroed((nuint)(EpollBatch * EpollNative.EventStride));
        _thread = new Thread(Run) { Name = Name, IsBackground = true };
        _worker = new Thread(RunWorker) { Name = Name + "-worker", IsBackground = true };
        _thread.Start();
        _worker.Start();
        _started.Wait();
        AioLog.Started(_logger, Name, capacity);
    }

    /// <summary>The thread name, "novastor-aio-N".</summary>
    public string Name { get; }

    /// <summary>Requests the context holds in flight at once.</summary>
    public int Capacity => _slots.Length;

    /// <summary>True on the reactor's own thread (where completions are delivered).</summary>
    public bool IsCurrentThread => Environment.CurrentManagedThreadId == Volatile.Read(ref _threadId);

    /// <summary>The kernel's id of the reactor thread (for /proc/self/task/ID and profilers).</summary>
    public int OsThreadId => _osThreadId;

    /// <summary>How long disposing waits for the operations in flight.</summary>
    public TimeSpan StopWait { get; init; } = TimeSpan.FromSeconds(30);

    private CommandBufferPool? _commandBuffers;

    /// <summary>Bytes of command data buffers the queues on this reactor may hold at once (<see cref="CommandBuffers"/>).</summary>
    public long CommandBufferBytes { get; init; } = Reactors.ReactorPoolOptions.DefaultCommandBufferBytes;

    /// <summary>The data buffers of the commands of the queues on this reactor, bounded by <see cref="CommandBufferBytes"/> (128 KiB each).</summary>
    public CommandBufferPool CommandBuffers => LazyInitializer.EnsureInitialized(ref _commandBuffers, () =>
        new CommandBufferPool(Reactors.ReactorPoolOptions.CommandBufferChunkBytes, (int)Math.Max(1, CommandBufferBytes / Reactors.ReactorPoolOptions.CommandBufferChunkBytes)));

    /// <summary>The pool this reactor belongs to, if any (a lane of another pool is ignored).</summary>
    internal AioReactorPool? Pool { get; init; }

    /// <summary>Whether Linux native AIO can be set up in this process; the reason says why not.</summary>
    public static bool IsSupported(out string reason)
    {
        int errno = AioNative.Setup(1, out nint context);
        if (errno != 0)
        {
            reason = $"io_setup failed with {IoUringNative.DescribeErrno(errno)}";
            return false;
        }

        _ = AioNative.Destroy(context);
        reason = "available";
        return true;
    }

    /// <summary>
    /// Starts an operation from any thread: Read, Write and Fdsync go to the kernel, Blocking to the
    /// worker, Complete straight to delivery. The outcome reaches the handler on the reactor thread.
    /// False when the reactor has stopped (nothing was started).
    /// </summary>
    internal bool TrySubmit(in AioOperation operation)
    {
        Debug.Assert(operation.Handler is not null);
        Interlocked.Increment(ref _accepted);
        if (Volatile.Read(ref _stopped) != 0)
        {
            Interlocked.Decrement(ref _accepted);
            return false;
        }

        switch (operation.Opcode)
        {
            case AioOpcode.Read or AioOpcode.Write or AioOpcode.Fdsync:
                if (_free.TryTake(out int slot))
                {
                    _slots[slot] = operation;
                    SubmitSlot(slot);
                }
                else
                {
                    _waitingForSlot.Enqueue(operation);
                    Wake();
                }
                break;
            case AioOpcode.Blocking:
                _blocking.Enqueue(operation);
                _blockingReady.Release();
                break;
            default:
                _posted.Enqueue(operation);
                Wake();
                break;
        }
        return true;
    }

    /// <summary>
    /// Stops accepting operations, waits (bounded by <see cref="StopWait"/>) for those accepted, then
    /// destroys the context. Operations still stuck after the wait are left to the kernel.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Interlocked.Exchange(ref _stopping, 1);
        Wake();
        bool reactorEnded = IsCurrentThread || _thread.Join(StopWait + TimeSpan.FromSeconds(1));
        Interlocked.Exchange(ref _workerStopping, 1);
        _blockingReady.Release();
        bool workerEnded = _worker.Join(StopWait);
        Volatile.Read(ref _commandBuffers)?.Dispose();
        if (!reactorEnded || !workerEnded || IsCurrentThread)
        {
            // A thread still runs: its context, eventfd and event buffer stay (a bounded leak beats a crash).
            return;
        }

        _ = AioNative.Destroy(_context);
        _ = Native.Libc.Close(_epollFd);
        _ = Native.Libc.Close(_eventFd);
        NativeMemory.Free(_events);
        NativeMemory.Free(_epollEvents);
        _blockingReady.Dispose();
        _started.Dispose();
    }

    private void Wake()
    {
        int errno = ReactorNative.SignalEventFd(_eventFd);
        Debug.Assert(errno == 0, $"eventfd write failed: {errno}");
    }

    /// <summary>Hands the operation in <paramref name="slot"/> (from where it got to) to the kernel.</summary>
    private void SubmitSlot(int slot)
    {
        ref AioOperation op = ref _slots[slot];
        IoCb iocb = default;
        iocb.Data = (ulong)slot;
        iocb.FileDescriptor = (uint)op.Fd;
        iocb.Flags = AioNative.IOCB_FLAG_RESFD;
        iocb.ResultFd = (uint)_eventFd;
        switch (op.Opcode)
        {
            case AioOpcode.Read:
                iocb.Opcode = AioNative.IOCB_CMD_PREAD;
                break;
            case AioOpcode.Write:
                iocb.Opcode = AioNative.IOCB_CMD_PWRITE;
                iocb.RwFlags = op.RwFlags;
                break;
            default:
                iocb.Opcode = AioNative.IOCB_CMD_FDSYNC;
                break;
        }
        if (op.Opcode != AioOpcode.Fdsync)
        {
            iocb.Buffer = (ulong)(op.Buffer + (nint)op.Done);
            iocb.Bytes = (ulong)(op.Length - op.Done);
            iocb.Offset = op.Offset + op.Done;
        }

        int errno = AioNative.SubmitOne(_context, &iocb);
        if (errno == 0)
        {
            return;
        }

        if (errno == Errno.EAGAIN)
        {
            _retry.Enqueue(slot);
            Wake();
            return;
        }

        // Refused outright (EINVAL for an opcode this kernel lacks, EBADF...): delivered on the reactor.
        AioOperation refused = op;
        refused.Error = errno;
        ReleaseSlot(slot);
        _posted.Enqueue(refused);
        Wake();
    }

    private void ReleaseSlot(int slot)
    {
        _slots[slot] = default;
        _free.Return(slot);
    }

    private void Run()
    {
        Volatile.Write(ref _threadId, Environment.CurrentManagedThreadId);
        _osThreadId = ReactorNative.GetTid();
        if (_pin)
        {
            int errno = ReactorNative.PinCurrentThread(_index, out int cpu);
            if (errno == 0)
            {
                AioLog.Pinned(_logger, Name, cpu);
            }
            else
            {
                AioLog.PinFailed(_logger, Name, IoUringNative.DescribeErrno(errno));
            }
        }
        _started.Set();

        long stopDeadline = 0;
        bool busy = false;
        try
        {
            while (true)
            {
                // The only place the reactor blocks (when the last pass did nothing, and a short poll
                // caught nothing either): until the kernel completes a request, a socket is ready,
                // or something is posted (the eventfd). A busy reactor only collects ready sockets.
                int ready = busy ? EpollNative.Wait(_epollFd, _epollEvents, EpollBatch, 0) : PollBeforeSleeping();
                if (ready < 0)
                {
                    ready = EpollNative.Wait(_epollFd, _epollEvents, EpollBatch, -1);
                    _spin.Slept();
                }
                for (int i = 0; i < ready; i++)
                {
                    (uint events, ulong data) = EpollNative.EventAt(_epollEvents, i);
                    if (data == WakeCookie)
                    {
                        _ = ReactorNative.WaitEventFd(_eventFd); // non-blocking: resets the counter
                    }
                    else
                    {
                        StreamReady(data, events);
                    }
                }

                int work = Reap() + DrainPosted() + DrainMessages() + SubmitWaiting() + RunReadyStreams();
                work += RunBeforeSubmit();
                busy = work > 0 || HasReadyStreams;
                if (Volatile.Read(ref _stopping) != 0)
                {
                    if (Volatile.Read(ref _accepted) == 0)
                    {
                        // Dekker with TrySubmit and Post: after this exchange a newcomer sees _stopped,
                        // and one that got in before it is seen in _accepted here.
                        Interlocked.Exchange(ref _stopped, 1);
                        if (Volatile.Read(ref _accepted) == 0)
                        {
                            CancelStreams();
                            return;
                        }
                    }

                    stopDeadline = stopDeadline == 0 ? Stopwatch.GetTimestamp() + (long)(StopWait.TotalSeconds * Stopwatch.Frequency) : stopDeadline;
                    if (Stopwatch.GetTimestamp() > stopDeadline)
                    {
                        Interlocked.Exchange(ref _stopped, 1);
                        AioLog.StopTimedOut(_logger, Name, Volatile.Read(ref _accepted), StopWait);
                        CancelStreams();
                        return;
                    }
                }
            }
        }
        catch (Exception e)
        {
            Interlocked.Exchange(ref _stopped, 1);
            AioLog.LoopFailed(_logger, Name, e);
        }
    }

    /// <summary>
    /// Polls for work for the learnt budget (<see cref="SpinBeforeSleep"/>): at queue depth 1 the next
    /// command or completion usually comes within microseconds, and catching it awake saves the
    /// wake-up of a halted virtual CPU. Returns the epoll entries filled (0: work waits elsewhere),
    /// or -1 when nothing came: then the reactor sleeps.
    /// </summary>
    private int PollBeforeSleeping()
    {
        long budget = _spin.BudgetTicks;
        if (budget == 0)
        {
            return -1;
        }

        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            long waited = Stopwatch.GetTimestamp() - start;
            if (AioNative.RingHasEvents(_context) || !_messages.IsEmpty || !_posted.IsEmpty)
            {
                _spin.Caught(waited);
                return 0;
            }

            int ready = EpollNative.Wait(_epollFd, _epollEvents, EpollBatch, 0);
            if (ready != 0)
            {
                _spin.Caught(waited);
                return Math.Max(ready, 0);
            }

            if (waited > budget)
            {
                return -1;
            }
        }
    }

    private int Reap()
    {
        int total = 0;
        while (true)
        {
            int reaped = AioNative.Reap(_context, _events, ReapBatch);
            if (reaped == -Errno.EINTR)
            {
                continue;
            }

            if (reaped <= 0)
            {
                return total;
            }

            for (int i = 0; i < reaped; i++)
            {
                Completed(in _events[i]);
            }

            total += reaped;
            if (reaped < ReapBatch)
            {
                return total;
            }
        }
    }

    private void Completed(in IoEvent completion)
    {
        int slot = (int)completion.Data;
        ref AioOperation op = ref _slots[slot];
        int error = 0;
        if (completion.Result < 0)
        {
            error = (int)-completion.Result;
        }
        else if (op.Opcode != AioOpcode.Fdsync)
        {
            op.Done += completion.Result;
            if (op.Done < op.Length)
            {
                if (completion.Result > 0)
                {
                    SubmitSlot(slot); // a short transfer continues where it stopped
                    return;
                }

                // No progress at all: an unexpected end of file for a read, a full file for a write.
                error = op.Opcode == AioOpcode.Read ? Errno.EIO : Errno.ENOSPC;
            }
        }

        AioOperation done = op;
        ReleaseSlot(slot);
        Deliver(in done, error);
    }

    private int DrainPosted()
    {
        int delivered = 0;
        while (_posted.TryDequeue(out AioOperation op))
        {
            Deliver(in op, op.Error);
            delivered++;
        }
        return delivered;
    }

    /// <summary>Requests that found no free slot, or that io_submit answered with EAGAIN, try again.</summary>
    private int SubmitWaiting()
    {
        int started = 0;
        for (int retries = _retry.Count; retries > 0 && _retry.TryDequeue(out int slot); retries--)
        {
            SubmitSlot(slot);
            started++;
        }

        while (!_waitingForSlot.IsEmpty && _free.TryTake(out int slot))
        {
            if (!_waitingForSlot.TryDequeue(out AioOperation op))
            {
                _free.Return(slot);
                break;
            }

            _slots[slot] = op;
            SubmitSlot(slot);
            started++;
        }
        return started;
    }

    private void Deliver(in AioOperation op, int error)
    {
        try
        {
            op.Handler!.OnAioCompleted(this, in op, error);
        }
        catch (Exception e)
        {
            AioLog.HandlerThrew(_logger, Name, e);
        }
        finally
        {
            Interlocked.Decrement(ref _accepted);
        }
    }

    private void RunWorker()
    {
        while (true)
        {
            _blockingReady.Wait();
            if (!_blocking.TryDequeue(out AioOperation op))
            {
                if (Volatile.Read(ref _workerStopping) != 0)
                {
                    return;
                }
                continue;
            }

            int error;
            try
            {
                error = op.Handler!.ExecuteBlocking(in op);
            }
            catch (Exception e)
            {
                AioLog.HandlerThrew(_logger, Name + "-worker", e);
                error = Errno.EIO;
            }

            op.Error = error;
            _posted.Enqueue(op);
            Wake();
        }
    }
}
