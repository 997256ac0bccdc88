using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine.Aio;

/// <summary>A fixed set of <see cref="AioReactor"/>s; volumes spread their requests over them, lanes bind a queue to one.</summary>
public sealed class AioReactorPool : IDisposable
{
    private readonly AioReactor[] _reactors;
    private uint _next;

    /// <param name="count">Reactors (each a context, a completion thread and a worker).</param>
    /// <param name="capacity">Requests each context holds in flight.</param>
    /// <param name="pinThreads">Pin reactor N to the N-th CPU the process may use.</param>
    /// <param name="stopWait">How long disposing a reactor waits for its operations in flight.</param>
    /// <param name="logger">Where start and failures are logged.</param>
    /// <param name="pollMicroseconds">The longest a reactor polls before sleeping; 0 never polls.</param>
    /// <exception cref="IOException">AIO cannot be set up (the reactors started so far are stopped).</exception>
    public AioReactorPool(int count = 1, int capacity = 1024, bool pinThreads = false, TimeSpan? stopWait = null, ILogger? logger = null,
        int pollMicroseconds = Reactors.ReactorPoolOptions.DefaultPollMicroseconds, long commandBufferBytes = Reactors.ReactorPoolOptions.DefaultCommandBufferBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _reactors = new AioReactor[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                _reactors[i] = new AioReactor(i, capacity, pinThreads, logger, pollMicroseconds)
                {
                    StopWait = stopWait ?? TimeSpan.FromSeconds(30),
                    Pool = this,
                    CommandBufferBytes = commandBufferBytes,
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

    public AioReactor this[int index] => _reactors[index];

    /// <summary>The next reactor, round robin (lock free).</summary>
    public AioReactor Next()
    {
        if (_reactors.Length == 1)
        {
            return _reactors[0];
        }
        uint n = Interlocked.Increment(ref _next);
        return _reactors[n % (uint)_reactors.Length];
    }

    /// <summary>A lane for one queue: the next reactor, round robin; its buffers are plain aligned memory.</summary>
    public EngineLane AcquireLane() => new(Next());

    /// <summary>Stops every reactor (each waits, bounded, for its operations in flight).</summary>
    public void Dispose()
    {
        foreach (AioReactor? reactor in _reactors)
        {
            reactor?.Dispose();
        }
    }
}
