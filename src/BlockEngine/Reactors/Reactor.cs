using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Reactors;

/// <summary>
/// One dedicated thread ("novastor-reactor-N"), optionally pinned to a CPU, owning one io_uring
/// created on that thread, and an inbox other threads post operations to.
/// </summary>
/// <remarks>
/// <para><b>The loop.</b> Drain the inbox into the slot table → prepare SQEs for parked operations
/// (in order) → Submit → reap CQEs → call the operation's handler on this thread. A short read or
/// write is parked again for its remainder.</para>
/// <para><b>Disk requests go to the kernel one at a time</b> (<c>diskSubmitBatch</c> = 1, the
/// default): each is submitted as soon as its SQE is prepared, not with the rest of the loop pass.
/// Several SQEs in one io_uring_enter run under one block plug, so the device sees none of them
/// until the kernel has prepared them all (and, with sends in the same batch, has also pushed the
/// responses through the socket); measured on this project's virtual disk, the target's 4 KiB QD32
/// rows went from about 13 requests per plug and 220 us at the device to 1 and 100-120 us, and
/// 10-15 % more IOPS end to end, for one more system call per request (what fio itself does).</para>
/// <para><b>Backpressure.</b> An operation that finds no free SQE, or would exceed the completion
/// queue's capacity, stays parked (FIFO) and is prepared after the next reap: a full ring delays
/// requests, it never fails them.</para>
/// <para><b>Polling before sleeping.</b> When it has nothing to do, the reactor first watches its
/// ring's flags (TASKRUN_FLAG) and its inbox for a short, learnt budget (<see cref="SpinBeforeSleep"/>):
/// at queue depth 1 the next command usually arrives within microseconds, and catching it awake
/// saves the wake-up of a halted virtual CPU. Under sparse load the budget falls to zero.</para>
/// <para><b>Wakeup.</b> A non-blocking eventfd has one IORING_OP_READ armed on the ring at all times.
/// The reactor blocks in exactly one place, io_uring_enter(min_complete = 1), whether it is idle or
/// waiting for I/O: a disk completion or the eventfd read ends the wait. A poster writes the eventfd
/// only when the reactor has announced it is about to sleep (a Dekker handshake on
/// <c>_sleeping</c> against the queue), so a busy reactor costs posters no system call, and an idle
/// one burns no CPU.</para>
/// </remarks>
public sealed unsafe class Reactor : IStreamReactor, IDisposable
{
    private const ulong WakeTag = ulong.MaxValue;
    private const long MaxChunk = 1L << 30;
    private const int ECANCELED = 125;

    /// <summary>
    /// A MSG_WAITALL receive at least this long is a "long receive" (a large H2CData payload): at a few
    /// GB/s it is tens of microseconds away, longer than a wake-up costs.
    /// </summary>
    internal const int LongReceiveBytes = 32 * 1024;

    private readonly ConcurrentQueue<ReactorOperation> _inbox = new();
    private readonly Thread _thread;
    private readonly ILogger _logger;
    private readonly uint _requestedEntries;
    private readonly bool _pin;
    private readonly bool _submissionPolling;
    private readonly long _registeredBufferBytes;
    private readonly int _registeredChunkBytes;
    private readonly int _submitEvery;
    private readonly int _diskSubmitBatch;
    private readonly int _index;
    private int _eventFd = -1; // written by the reactor thread before _started is set
    private readonly ulong* _wakeBuffer;
    private readonly ManualResetEventSlim _started = new();
    private ExceptionDispatchInfo? _startFailure;
    private int _threadId;

    // Reactor-thread state.
    private IoUring? _ring;
    private ReactorOperation[] _slots = new ReactorOperation[64];
    private int[] _free = new int[64];
    private int _freeCount;
    private readonly Queue<int> _pending = new(64);
    private readonly IoUringCqe[] _cqes = new IoUringCqe[256];
    private readonly Queue<DeferredCompletion> _deferred = new(64);
    private readonly List<IReactorStream> _beforeSubmit = new(64);
    private int _inFlight;
    private int _maxInFlight;
    private SpinBeforeSleep _spin;
    // Receives parked or in the kernel, and those of them waiting for at least LongReceiveBytes
    // (MSG_WAITALL): while every receive out is long, the reactor sleeps at once (see Loop).
    private int _receivesOut;
    private int _longReceives;
    private bool _wakeArmed;
    // The registered slab, when the ring accepted it: buffers inside go as READ_FIXED/WRITE_FIXED.
    private nint _fixedStart;
    private long _fixedBytes;
    private long _fixedSubmissions;

    // Shared state.
    private int _sleeping;
    private int _stopping;
    private int _stopped;
    private int _posters;
    private int _disposeRequested;

    /// <summary>Starts the reactor thread and waits until its ring exists.</summary>
    /// <param name="index">N in the thread name; also which allowed CPU it is pinned to.</param>
    /// <param name="ringEntries">SQ size (the CQ is twice that); tiny rings are fine, they only delay requests.</param>
    /// <param name="pinToCpu">Pin the thread with sched_setaffinity (a failure is logged, not fatal).</param>
    /// <param name="logger">Where start, pinning and failures are logged.</param>
    /// <param name="registeredBufferBytes">Size of the slab registered with the ring for <see cref="Buffers"/>; 0 for none.</param>
    /// <param name="registeredChunkBytes">Size of each buffer rented from the slab.</param>
    /// <param name="submitEvery">While delivering completions, hand the requests their handlers posted to the
    /// kernel after every this many (0: only once all ready completions are delivered). Small values keep a
    /// fast device busy instead of letting it idle while a whole batch of callbacks runs.</param>
    /// <param name="submissionPolling">IORING_SETUP_SQPOLL: a kernel thread polls the SQ, so submitting costs no system call
    /// while it is awake (it spins on a CPU of its own; worth it only with cores to spare).</param>
    /// <param name="pollMicroseconds">The longest the reactor polls its ring before sleeping (<see cref="SpinBeforeSleep"/>); 0 never polls.</param>
    /// <param name="diskSubmitBatch">The most disk requests (read, write, fsync, fallocate) prepared before they are
    /// submitted; 1 submits each at once, 0 leaves them to the loop pass's single submission.</param>
    /// <exception cref="IoUringException">io_uring cannot be set up (see <see cref="IoUringFileVolume.IsSupported"/>).</exception>
    public Reactor(int index, uint ringEntries = 256, bool pinToCpu = false, ILogger? logger = null,
        long registeredBufferBytes = 0, int registeredChunkBytes = 128 * 1024, bool submissionPolling = false, int submitEvery = 4,
        int pollMicroseconds = ReactorPoolOptions.DefaultPollMicroseconds, int diskSubmitBatch = ReactorPoolOptions.DefaultDiskSubmitBatch)
    {
        _spin = new SpinBeforeSleep(pollMicroseconds);
        ArgumentOutOfRangeException.ThrowIfNegative(submitEvery);
        ArgumentOutOfRangeException.ThrowIfNegative(diskSubmitBatch);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfZero(ringEntries);
        _index = index;
        _requestedEntries = ringEntries;
        _pin = pinToCpu;
        _submissionPolling = submissionPolling;
        _registeredBufferBytes = registeredBufferBytes;
        _registeredChunkBytes = registeredChunkBytes;
        _submitEvery = submitEvery;
        _diskSubmitBatch = diskSubmitBatch;
        _logger = logger ?? NullLogger.Instance;
        Name = $"novastor-reactor-{index}";
        for (int i = 0; i < _free.Length; i++)
        {
            _free[i] = _free.Length - 1 - i;
        }
        _freeCount = _free.Length;

        _wakeBuffer = (ulong*)NativeMemory.AllocZeroed(sizeof(ulong));
        _thread = new Thread(Run) { Name = Name, IsBackground = true };
        _thread.Start();
        _started.Wait();
        if (_startFailure is not null)
        {
            NativeMemory.Free(_wakeBuffer);
            _startFailure.Throw();
        }
    }

    /// <summary>The thread name, "novastor-reactor-N".</summary>
    public string Name { get; }

    /// <summary>The reactor thread's managed id.</summary>
    public int ManagedThreadId => _threadId;

    /// <summary>The kernel's id of the reactor thread (for /proc/self/task/&lt;tid&gt;).</summary>
    internal int OsThreadId { get; private set; }

    /// <summary>True when called on this reactor's thread.</summary>
    public bool IsCurrentThread => Environment.CurrentManagedThreadId == _threadId;

    /// <summary>The CPU the thread is pinned to, or -1.</summary>
    public int PinnedCpu { get; private set; } = -1;

    /// <summary>SQ entries of the ring (a power of two).</summary>
    public uint RingEntries { get; private set; }

    /// <summary>
    /// Buffers registered with this reactor's ring (null when none were configured). A request
    /// whose buffer comes from here and that runs on this reactor skips the per-I/O page pinning.
    /// </summary>
    internal RegisteredBufferPool? Buffers { get; private set; }

    /// <summary>READ_FIXED/WRITE_FIXED operations prepared so far (for tests and diagnostics).</summary>
    internal long FixedSubmissions => Volatile.Read(ref _fixedSubmissions);

    /// <summary>Long receives (see <see cref="LongReceiveBytes"/>) not yet completed.</summary>
    internal int LongReceives => Volatile.Read(ref _longReceives);

    /// <summary>
    /// True while at least one receive is long and every receive out is (see Loop): the streams then
    /// all wait for transfers whose pace their senders set, and the reactor sleeps without polling.
    /// A stream waiting for anything shorter (a command, a QD1 read) keeps the learnt polling for all.
    /// </summary>
    internal bool SleepsThroughReceives => Volatile.Read(ref _longReceives) > 0 && Volatile.Read(ref _longReceives) == Volatile.Read(ref _receivesOut);

    /// <summary>The pool this reactor belongs to (null for a stand-alone reactor).</summary>
    internal ReactorPool? Pool { get; init; }

    /// <summary>How long Dispose waits for operations in flight before closing the ring anyway.</summary>
    public TimeSpan StopWait { get; init; } = TimeSpan.FromSeconds(30);

    private CommandBufferPool? _commandBuffers;

    /// <summary>Bytes of command data buffers the queues on this reactor may hold at once (<see cref="CommandBuffers"/>).</summary>
    public long CommandBufferBytes { get; init; } = ReactorPoolOptions.DefaultCommandBufferBytes;

    /// <summary>
    /// The data buffers of the commands of the queues on this reactor: bounded by
    /// <see cref="CommandBufferBytes"/>, the first ones in the registered memory.
    /// </summary>
    public CommandBufferPool CommandBuffers => LazyInitializer.EnsureInitialized(ref _commandBuffers, () =>
        new CommandBufferPool(_registeredChunkBytes, (int)Math.Max(1, CommandBufferBytes / _registeredChunkBytes), length => Buffers?.TryRent(length)));

    /// <summary>
    /// Posts an operation from any thread (this one included). False once the reactor has stopped:
    /// the handler will then never be called for it.
    /// </summary>
    internal bool TryPost(in ReactorOperation operation)
    {
        // Everything, the eventfd write included, happens inside the _posters section: Teardown
        // waits for it to empty before closing the eventfd, so no write can reach a recycled descriptor.
        if (operation.Opcode is not (ReactorOpcode.Complete or ReactorOpcode.Message) && Environment.CurrentManagedThreadId == _threadId)
        {
            // From a handler on this thread (a resubmission, the next step of a request): straight
            // into the slot table, no queue and no interlocked operation. Complete and Message
            // operations still go through the inbox, so a handler is never re-entered on its own stack.
            if (Volatile.Read(ref _stopped) != 0)
            {
                return false;
            }
            Park(in operation);
            return true;
        }

        Interlocked.Increment(ref _posters);
        try
        {
            if (Volatile.Read(ref _stopped) != 0)
            {
                return false;
            }
            _inbox.Enqueue(operation);
            Interlocked.MemoryBarrier(); // the enqueue before the _sleeping load (the loop does the mirror image)
            if (Volatile.Read(ref _sleeping) != 0 && Interlocked.Exchange(ref _sleeping, 0) != 0)
            {
                _ = ReactorNative.SignalEventFd(_eventFd);
            }
            return true;
        }
        finally
        {
            Interlocked.Decrement(ref _posters);
        }
    }

    /// <summary>
    /// Receives up to <paramref name="length"/> bytes from <paramref name="fd"/> into
    /// <paramref name="buffer"/>; <see cref="IReactorStream.OnReceived"/> gets the result. With
    /// <paramref name="waitAll"/> it completes only once all <paramref name="length"/> bytes are in
    /// (or the stream ended: then with fewer). On this reactor's thread only. False once the
    /// reactor has stopped (no callback then).
    /// </summary>
    public bool Receive(IReactorStream stream, int fd, nint buffer, int length, bool waitAll = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ThrowIfNotReactorThread();
        if (Volatile.Read(ref _stopped) != 0)
        {
            return false;
        }
        ReactorOperation op = default;
        op.Opcode = ReactorOpcode.Receive;
        op.Stream = stream;
        op.Fd = fd;
        op.Buffer = buffer;
        op.Length = length;
        op.Flags = waitAll ? IoUringNative.MSG_WAITALL : 0;
        _receivesOut++;
        if (IsLongReceive(in op))
        {
            _longReceives++;
        }
        Park(in op);
        return true;
    }

    /// <summary>
    /// Sends the unsent pieces of <paramref name="pieces"/> on <paramref name="fd"/> with one sendmsg;
    /// <see cref="IReactorStream.OnSent"/> gets the bytes sent (the caller then consumes them from the
    /// list and sends the rest, if any). The list and its pieces must not change until then. On this
    /// reactor's thread only. False once the reactor has stopped (no callback then).
    /// </summary>
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
        ReactorOperation op = default;
        op.Opcode = ReactorOpcode.SendMessage;
        op.Stream = stream;
        op.Fd = fd;
        op.Buffer = pieces.PrepareMessage();
        op.Length = pieces.RemainingBytes;
        Park(in op);
        return true;
    }

    /// <summary>
    /// Delivers <paramref name="message"/> to <see cref="IReactorStream.OnPosted"/> on this reactor's
    /// thread, from any thread (this one included: it then runs after the current callback). False
    /// once the reactor has stopped: the message is not delivered.
    /// </summary>
    public bool Post(IReactorStream stream, ulong message)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ReactorOperation op = default;
        op.Opcode = ReactorOpcode.Message;
        op.Stream = stream;
        op.UserData = message;
        return TryPost(in op);
    }

    /// <summary>
    /// Calls <see cref="IReactorStream.BeforeSubmit"/> once this iteration's completions have been
    /// delivered, before the reactor next enters the kernel. On this reactor's thread only; the
    /// stream asks once per iteration (it keeps its own flag).
    /// </summary>
    public void RequestBeforeSubmit(IReactorStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfNotReactorThread();
        _beforeSubmit.Add(stream);
    }

    /// <summary>
    /// Delivers a block completion after the current callback returns, on this thread: for requests
    /// a volume finished inline on the reactor (memory, null), so that the submitter is never
    /// re-entered on its own stack and the reactor does not go to sleep with it undelivered.
    /// </summary>
    internal void DeferCompletion(IBlockCompletion completion, ulong userData, int error)
    {
        Debug.Assert(IsCurrentThread, "DeferCompletion off the reactor thread");
        _deferred.Enqueue(new DeferredCompletion(completion, userData, error));
    }

    private void ThrowIfNotReactorThread()
    {
        if (Environment.CurrentManagedThreadId != _threadId)
        {
            throw new InvalidOperationException($"{Name}: stream operations are made on the reactor's own thread.");
        }
    }

    private readonly record struct DeferredCompletion(IBlockCompletion Completion, ulong UserData, int Error);

    private void WakeForStop()
    {
        Interlocked.Increment(ref _posters);
        try
        {
            if (Volatile.Read(ref _stopped) == 0)
            {
                _ = ReactorNative.SignalEventFd(_eventFd);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _posters);
        }
    }

    /// <summary>
    /// Stops the loop once every posted operation has completed (bounded by <see cref="StopWait"/>),
    /// then closes the ring. Operations posted afterwards are refused.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeRequested, 1) != 0)
        {
            return;
        }
        Volatile.Write(ref _stopping, 1);
        WakeForStop();
        if (!IsCurrentThread)
        {
            _ = _thread.Join(StopWait + TimeSpan.FromSeconds(5));
        }
        _started.Dispose();
        // Free buffers now, rented ones as their queues give them back.
        Volatile.Read(ref _commandBuffers)?.Dispose();
    }

    private void Run()
    {
        _threadId = Environment.CurrentManagedThreadId;
        OsThreadId = ReactorNative.GetTid();
        if (_pin)
        {
            int errno = ReactorNative.PinCurrentThread(_index, out int cpu);
            if (errno == 0)
            {
                PinnedCpu = cpu;
                ReactorLog.Pinned(_logger, Name, cpu);
            }
            else
            {
                ReactorLog.PinFailed(_logger, Name, Libc.Describe(errno));
            }
        }
        IoUring ring;
        try
        {
            ring = IoUring.Create(_requestedEntries, _submissionPolling ? IoUringNative.IORING_SETUP_SQPOLL : 0);
        }
        catch (Exception e)
        {
            _startFailure = ExceptionDispatchInfo.Capture(e);
            _started.Set();
            return;
        }
        // With FAST_POLL (5.7+) a read of a non-blocking eventfd waits on a poll inside the ring; an
        // older kernel would complete it at once with EAGAIN (a busy loop), so there the eventfd
        // blocks and the read waits in an io-wq worker instead.
        bool fastPoll = (ring.Features & IoUringNative.IORING_FEAT_FAST_POLL) != 0;
        _eventFd = ReactorNative.CreateEventFd(nonBlocking: fastPoll, out int eventErrno);
        if (_eventFd < 0)
        {
            ring.Dispose();
            _startFailure = ExceptionDispatchInfo.Capture(new IOException($"eventfd failed: {Libc.Describe(eventErrno)}", eventErrno));
            _started.Set();
            return;
        }
        _ring = ring;
        RegisterBuffers(ring);
        RingEntries = ring.SqEntries;
        _maxInFlight = (int)Math.Max(1, ring.CqEntries - 1); // one CQ slot for the wakeup read
        ReactorLog.Started(_logger, Name, ring.SqEntries, IoUring.FormatSetupFlags(ring.SetupFlags));
        _started.Set();

        try
        {
            Loop(ring);
        }
        catch (Exception e)
        {
            ReactorLog.LoopFailed(_logger, Name, e);
        }
        Teardown(ring);
    }

    /// <summary>
    /// Allocates the buffer slab and registers it as fixed buffer 0. A refusal (RLIMIT_MEMLOCK
    /// without CAP_IPC_LOCK, typically) is logged: the buffers still serve, as plain reads and writes.
    /// </summary>
    private void RegisterBuffers(IoUring ring)
    {
        if (_registeredBufferBytes <= 0)
        {
            return;
        }
        var pool = new RegisteredBufferPool(_registeredBufferBytes, _registeredChunkBytes);
        try
        {
            ring.RegisterBuffers([(pool.Start, (int)Math.Min(pool.SizeBytes, 1L << 30))]);
            pool.IsRegistered = true;
            _fixedStart = pool.Start;
            _fixedBytes = Math.Min(pool.SizeBytes, 1L << 30);
            ReactorLog.BuffersRegistered(_logger, Name, pool.ChunkCount, pool.ChunkBytes);
        }
        catch (IoUringException e)
        {
            ReactorLog.BuffersNotRegistered(_logger, Name, e.Message);
        }
        Buffers = pool;
    }

    /// <summary>A receive that completes only once at least <see cref="LongReceiveBytes"/> have arrived.</summary>
    private static bool IsLongReceive(in ReactorOperation op) =>
        op.Opcode == ReactorOpcode.Receive && (op.Flags & IoUringNative.MSG_WAITALL) != 0 && op.Length >= LongReceiveBytes;

    private bool IsFixed(in ReactorOperation op)
    {
        if (_fixedBytes == 0 || op.Buffer < _fixedStart || op.Buffer - _fixedStart > _fixedBytes - op.Length)
        {
            return false;
        }
        Volatile.Write(ref _fixedSubmissions, _fixedSubmissions + 1); // only this thread writes it
        return true;
    }

    private void Loop(IoUring ring)
    {
        long stopStart = 0;
        while (true)
        {
            DrainInbox();
            RunDeferred();
            RunBeforeSubmit();
            PrepareSubmissions(ring);

            if (Volatile.Read(ref _stopping) != 0)
            {
                if (_inFlight == 0 && _pending.Count == 0 && _inbox.IsEmpty)
                {
                    return;
                }
                if (stopStart == 0)
                {
                    stopStart = Stopwatch.GetTimestamp();
                }
                else if (Stopwatch.GetElapsedTime(stopStart) > StopWait)
                {
                    ReactorLog.StopTimedOut(_logger, Name, _inFlight + _pending.Count, StopWait);
                    return;
                }
            }

            uint waitFor = 0;
            bool canPrepareMore = _pending.Count > 0 && _inFlight < _maxInFlight;
            // While every receive out is a long one, the next completion is most likely the end of
            // one, a stream's worth of bytes away: polling through that costs more CPU than a
            // wake-up, and gains nothing on a transfer whose pace the sender sets. Another stream
            // waiting for something short (a command, a QD1 read) keeps the polling: measured on
            // one reactor, its QD1 reads beside 128 KiB writes took 1.3-1.4x as long without it.
            // Such a sleep says nothing about how long ordinary waits are, so it does not shrink
            // the budget.
            bool longWait = SleepsThroughReceives;
            if (!canPrepareMore && (_inFlight > 0 || _wakeArmed) && (longWait || !PolledWorkArrived(ring)))
            {
                // Announce the sleep, then look once more: a poster that enqueued before the
                // announcement is seen here, one after it sees _sleeping and writes the eventfd.
                _ = Interlocked.Exchange(ref _sleeping, 1);
                if (_inbox.IsEmpty)
                {
                    waitFor = 1;
                    if (!longWait)
                    {
                        _spin.Slept();
                    }
                }
            }
            _ = ring.Submit(waitFor);
            Volatile.Write(ref _sleeping, 0);
            Reap(ring);
        }
    }

    /// <summary>
    /// Before sleeping, polls the ring's flags and the inbox for the learnt budget (memory reads,
    /// yielding the CPU between them): true when work arrived meanwhile, so the reactor goes round
    /// again instead of sleeping.
    /// </summary>
    private bool PolledWorkArrived(IoUring ring)
    {
        long budget = _spin.BudgetTicks;
        if (budget == 0 || Volatile.Read(ref _stopping) != 0)
        {
            return false;
        }

        if (ring.PendingSubmissions > 0)
        {
            // What this iteration prepared (a response, a disk request) must reach the kernel before
            // the reactor waits on anything: go round once more, submitting without waiting.
            return true;
        }

        long start = Stopwatch.GetTimestamp();
        long waited;
        do
        {
            if (ring.HasPendingWork || !_inbox.IsEmpty)
            {
                _spin.Caught(Stopwatch.GetTimestamp() - start);
                return true;
            }

            // Yield between looks: on a small machine the thread the reactor waits for (a client, a
            // kernel worker) may need this very CPU; a pure spin there made throughput runs erratic.
            Thread.Yield();
            waited = Stopwatch.GetTimestamp() - start;
        }
        while (waited < budget);

        return false;
    }

    private void DrainInbox()
    {
        while (_inbox.TryDequeue(out ReactorOperation operation))
        {
            if (operation.Opcode == ReactorOpcode.Complete)
            {
                Deliver(in operation, operation.Error);
                continue;
            }
            if (operation.Opcode == ReactorOpcode.Message)
            {
                DeliverMessage(in operation);
                continue;
            }
            Park(in operation);
        }
    }

    /// <summary>Inline block completions, in order; a callback may defer more (the next step of a command).</summary>
    private void RunDeferred()
    {
        while (_deferred.TryDequeue(out DeferredCompletion deferred))
        {
            try
            {
                deferred.Completion.OnBlockCompleted(deferred.UserData, deferred.Error);
            }
            catch (Exception e)
            {
                ReactorLog.HandlerThrew(_logger, Name, e);
            }
        }
    }

    private void RunBeforeSubmit()
    {
        // By index: a callback may (wrongly, but harmlessly) ask again; it then runs in this pass.
        for (int i = 0; i < _beforeSubmit.Count; i++)
        {
            try
            {
                _beforeSubmit[i].BeforeSubmit();
            }
            catch (Exception e)
            {
                ReactorLog.HandlerThrew(_logger, Name, e);
            }
        }
        _beforeSubmit.Clear();
    }

    private void DeliverMessage(in ReactorOperation operation)
    {
        try
        {
            operation.Stream!.OnPosted(operation.UserData);
        }
        catch (Exception e)
        {
            ReactorLog.HandlerThrew(_logger, Name, e);
        }
    }

    private void DeliverStreamResult(IReactorStream stream, ReactorOpcode opcode, int result)
    {
        try
        {
            if (opcode == ReactorOpcode.Receive)
            {
                stream.OnReceived(result);
            }
            else
            {
                stream.OnSent(result);
            }
        }
        catch (Exception e)
        {
            ReactorLog.HandlerThrew(_logger, Name, e);
        }
    }

    /// <summary>Gives an operation a slot and queues it for the next SQEs (reactor thread only).</summary>
    private void Park(in ReactorOperation operation)
    {
        if (_freeCount == 0)
        {
            GrowSlots();
        }
        int slot = _free[--_freeCount];
        _slots[slot] = operation;
        _pending.Enqueue(slot);
    }

    private void GrowSlots()
    {
        int old = _slots.Length;
        Array.Resize(ref _slots, old * 2);
        Array.Resize(ref _free, old * 2);
        for (int i = old * 2 - 1; i >= old; i--)
        {
            _free[_freeCount++] = i;
        }
    }

    private void PrepareSubmissions(IoUring ring)
    {
        IoUringSqe* sqe;
        if (!_wakeArmed && Volatile.Read(ref _stopping) == 0 && ring.TryGetSubmissionEntry(out sqe))
        {
            sqe->PrepareRead(_eventFd, (nint)_wakeBuffer, sizeof(ulong), 0, WakeTag);
            _wakeArmed = true;
        }
        int diskPrepared = 0;
        while (_pending.Count > 0 && _inFlight < _maxInFlight && ring.TryGetSubmissionEntry(out sqe))
        {
            int slot = _pending.Dequeue();
            ref ReactorOperation op = ref _slots[slot];
            switch (op.Opcode)
            {
                case ReactorOpcode.Read when IsFixed(in op):
                    sqe->PrepareReadFixed(op.Fd, op.Buffer, (uint)Math.Min(op.Length, MaxChunk), op.Offset, 0, (ulong)slot);
                    break;
                case ReactorOpcode.Read:
                    sqe->PrepareRead(op.Fd, op.Buffer, (uint)Math.Min(op.Length, MaxChunk), op.Offset, (ulong)slot);
                    break;
                case ReactorOpcode.Write when IsFixed(in op):
                    sqe->PrepareWriteFixed(op.Fd, op.Buffer, (uint)Math.Min(op.Length, MaxChunk), op.Offset, 0, (ulong)slot, op.Flags);
                    break;
                case ReactorOpcode.Write:
                    sqe->PrepareWrite(op.Fd, op.Buffer, (uint)Math.Min(op.Length, MaxChunk), op.Offset, (ulong)slot, op.Flags);
                    break;
                case ReactorOpcode.Fsync:
                    sqe->PrepareFsync(op.Fd, (uint)op.Flags, (ulong)slot);
                    break;
                case ReactorOpcode.Fallocate:
                    sqe->PrepareFallocate(op.Fd, op.Flags, op.Offset, op.Length, (ulong)slot);
                    break;
                case ReactorOpcode.Receive:
                    sqe->PrepareReceive(op.Fd, op.Buffer, (uint)Math.Min(op.Length, MaxChunk), op.Flags, (ulong)slot);
                    break;
                case ReactorOpcode.SendMessage:
                    sqe->PrepareSendMessage(op.Fd, op.Buffer, IoUringNative.MSG_NOSIGNAL, (ulong)slot);
                    break;
                default:
                    sqe->PrepareNop((ulong)slot); // not reached: Complete and Message never get a slot
                    break;
            }
            _inFlight++;
            if (_diskSubmitBatch > 0 && op.Opcode is not (ReactorOpcode.Receive or ReactorOpcode.SendMessage)
                && ++diskPrepared >= _diskSubmitBatch)
            {
                // Every SQE up to this one is prepared; the next is taken only after this call.
                diskPrepared = 0;
                _ = ring.Submit(0);
            }
        }
    }

    private void Reap(IoUring ring)
    {
        int count;
        int sinceSubmit = 0;
        while ((count = ring.ReapCompletions(_cqes)) > 0)
        {
            for (int i = 0; i < count; i++)
            {
                Complete(in _cqes[i]);
                if (_submitEvery > 0 && ++sinceSubmit >= _submitEvery && _pending.Count > 0)
                {
                    // Keep the device fed: what the handlers just posted goes now, not after the
                    // whole batch of callbacks (a burst pattern that leaves a fast disk idle).
                    sinceSubmit = 0;
                    PrepareSubmissions(ring);
                    _ = ring.Submit(0);
                }
            }
        }
    }

    private void Complete(in IoUringCqe cqe)
    {
        if (cqe.UserData == WakeTag)
        {
            _wakeArmed = false; // re-armed by the next PrepareSubmissions
            return;
        }
        int slot = (int)cqe.UserData;
        _inFlight--;
        ref ReactorOperation op = ref _slots[slot];
        int result = cqe.Result;
        if (op.Opcode is ReactorOpcode.Receive or ReactorOpcode.SendMessage)
        {
            if (op.Opcode == ReactorOpcode.Receive)
            {
                _receivesOut--;
            }

            if (IsLongReceive(in op))
            {
                _longReceives--;
            }
            // Socket results go to the stream as they are: a short receive or send is normal there.
            IReactorStream stream = op.Stream!;
            ReactorOpcode opcode = op.Opcode;
            op = default;
            _free[_freeCount++] = slot;
            DeliverStreamResult(stream, opcode, result);
            return;
        }
        int error = 0;
        if (result < 0)
        {
            error = -result;
            if (error is Errno.EINTR or Errno.EAGAIN && op.Opcode is ReactorOpcode.Read or ReactorOpcode.Write)
            {
                _pending.Enqueue(slot); // nothing transferred: try again
                return;
            }
        }
        else if (op.Opcode is ReactorOpcode.Read or ReactorOpcode.Write)
        {
            if (result == 0)
            {
                error = Errno.EIO; // end of file (truncated behind our back) or no progress: do not spin
            }
            else if (result < op.Length)
            {
                op.Buffer += result;
                op.Offset += result;
                op.Length -= result;
                _pending.Enqueue(slot); // short transfer: the remainder goes next, in order
                return;
            }
        }
        ReactorOperation done = op;
        op = default; // drop the references the slot held
        _free[_freeCount++] = slot;
        Deliver(in done, error);
    }

    private void Deliver(in ReactorOperation operation, int error)
    {
        try
        {
            operation.Handler.OnOperationCompleted(this, in operation, error);
        }
        catch (Exception e)
        {
            ReactorLog.HandlerThrew(_logger, Name, e);
        }
    }

    private void Teardown(IoUring ring)
    {
        _ = Interlocked.Exchange(ref _stopped, 1); // a full fence before reading _posters
        SpinWait spinner = default;
        while (Volatile.Read(ref _posters) != 0)
        {
            spinner.SpinOnce();
        }
        // What never reached the kernel is cancelled; what is still in the kernel (only after a
        // timeout or a loop failure) is cancelled by closing the ring, without a callback.
        while (_pending.Count > 0)
        {
            int slot = _pending.Dequeue();
            ReactorOperation op = _slots[slot];
            _slots[slot] = default;
            if (op.Opcode is ReactorOpcode.Receive or ReactorOpcode.SendMessage)
            {
                DeliverStreamResult(op.Stream!, op.Opcode, -ECANCELED);
                continue;
            }
            Deliver(in op, ECANCELED);
        }
        while (_inbox.TryDequeue(out ReactorOperation op))
        {
            if (op.Opcode == ReactorOpcode.Message)
            {
                DeliverMessage(in op);
                continue;
            }
            Deliver(in op, op.Opcode == ReactorOpcode.Complete ? op.Error : ECANCELED);
        }
        RunDeferred();
        ring.Dispose();
        _ring = null;
        Buffers?.Dispose(); // after the ring: the kernel no longer references the slab
        _ = Libc.Close(_eventFd);
        NativeMemory.Free(_wakeBuffer);
    }
}
