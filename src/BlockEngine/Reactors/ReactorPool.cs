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
                _reactors[i] = new Reactor(i, options.RingEntries, options.PinThreads, logger) { StopWait = options.StopWait };
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

    /// <summary>Stops every reactor (each waits, bounded, for its operations in flight).</summary>
    public void Dispose()
    {
        foreach (Reactor? reactor in _reactors)
        {
            reactor?.Dispose();
        }
    }
}
