using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine.Reactors;

/// <summary>Knobs of a <see cref="ReactorPool"/>.</summary>
public sealed class ReactorPoolOptions
{
    /// <summary>Number of reactors (threads, each with its own ring). Default 1.</summary>
    public int Count { get; init; } = 1;

    /// <summary>SQ entries per ring. Default 256.</summary>
    public uint RingEntries { get; init; } = 256;

    /// <summary>Pin reactor N to the N-th CPU the process may use (sched_setaffinity). Default off.</summary>
    public bool PinThreads { get; init; }

    /// <summary>
    /// Bytes of buffer memory each reactor registers with its ring (page-pinned, counted against
    /// RLIMIT_MEMLOCK without CAP_IPC_LOCK). Default 32 MiB: the first 256 command buffers of 128 KiB
    /// of the reactor's <see cref="CommandBufferBytes"/>.
    /// 0 disables registered buffers.
    /// </summary>
    public long RegisteredBufferBytes { get; init; } = 32L << 20;

    /// <summary>Size of each registered buffer (the largest transfer one command moves). Default 128 KiB.</summary>
    public int RegisteredChunkBytes { get; init; } = CommandBufferChunkBytes;

    /// <summary>The size of a command data buffer: the largest transfer one command moves.</summary>
    public const int CommandBufferChunkBytes = 128 * 1024;

    /// <summary>
    /// Bytes of command data buffers the queues on one reactor may hold at once (the registered
    /// buffers count in it); a command that finds none free waits. Default 128 MiB: 1024 commands of
    /// 128 KiB in flight per reactor.
    /// </summary>
    public long CommandBufferBytes { get; init; } = DefaultCommandBufferBytes;

    /// <summary>The default of <see cref="CommandBufferBytes"/>.</summary>
    public const long DefaultCommandBufferBytes = 128L << 20;

    /// <summary>
    /// While a reactor delivers completions, it submits what their handlers posted after every this
    /// many (0: only after the whole batch). Default 4. See <see cref="Reactor"/>.
    /// </summary>
    public int SubmitEvery { get; init; } = 4;

    /// <summary>
    /// The longest a reactor with nothing to do polls its ring before it sleeps, in microseconds; the
    /// poll itself is learnt from the waits it catches (see <see cref="SpinBeforeSleep"/>). 0 never
    /// polls (each wait then costs a wake-up). Default 100.
    /// </summary>
    public int PollMicroseconds { get; init; } = DefaultPollMicroseconds;

    /// <summary>The default of <see cref="PollMicroseconds"/>: waits longer than this are worth sleeping through.</summary>
    public const int DefaultPollMicroseconds = 100;

    /// <summary>
    /// The most disk requests a reactor prepares before it submits them: 1 (default) hands each to
    /// the kernel at once, so the device starts on it while the next is prepared; 0 submits them
    /// together once per loop pass (one system call, one block plug). See <see cref="Reactor"/>.
    /// </summary>
    public int DiskSubmitBatch { get; init; } = DefaultDiskSubmitBatch;

    /// <summary>The default of <see cref="DiskSubmitBatch"/>.</summary>
    public const int DefaultDiskSubmitBatch = 1;

    /// <summary>IORING_SETUP_SQPOLL on every ring: a kernel thread per ring polls for submissions. Default off.</summary>
    public bool SubmissionPolling { get; init; }

    /// <summary>How long disposing a reactor waits for its operations in flight. Default 30 s.</summary>
    public TimeSpan StopWait { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>A fixed set of <see cref="Reactor"/>s; volumes spread their requests over them.</summary>
public sealed class ReactorPool : IDisposable
{
    private readonly Reactor[] _reactors;
    private uint _next;

    /// <exception cref="IoUringException">io_uring cannot be set up (the reactors started so far are stopped).</exception>
    public ReactorPool(ReactorPoolOptions? options = null, ILogger? logger = null)
    {
        options ??= new ReactorPoolOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Count, 1, nameof(options));
        _reactors = new Reactor[options.Count];
        try
        {
            for (int i = 0; i < _reactors.Length; i++)
            {
                _reactors[i] = new Reactor(i, options.RingEntries, options.PinThreads, logger,
                    options.RegisteredBufferBytes, options.RegisteredChunkBytes, options.SubmissionPolling, options.SubmitEvery, options.PollMicroseconds,
                    options.DiskSubmitBatch)
                {
                    StopWait = options.StopWait,
                    CommandBufferBytes = options.CommandBufferBytes,
                    Pool = this,
                };
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Count => _reactors.Length;

    public Reactor this[int index] => _reactors[index];

    /// <summary>The next reactor, round robin (lock free).</summary>
    public Reactor Next()
    {
        if (_reactors.Length == 1)
        {
            return _reactors[0];
        }
        uint n = Interlocked.Increment(ref _next);
        return _reactors[n % (uint)_reactors.Length];
    }

    /// <summary>
    /// A lane for one queue: the next reactor, round robin. Requests carrying it run on that
    /// reactor, and buffers it rents are registered with that reactor's ring.
    /// </summary>
    public EngineLane AcquireLane()
    {
        Reactor reactor = Next();
        return new EngineLane(reactor);
    }

    /// <summary>Stops every reactor (each waits, bounded, for its operations in flight).</summary>
    public void Dispose()
    {
        foreach (Reactor? reactor in _reactors)
        {
            reactor?.Dispose();
        }
    }
}
