using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine;

/// <summary>
/// When a volume's resources may be freed: the owner holds one reference and every accepted
/// request holds one until its completion has been delivered. Close stops new requests, waits a
/// bounded time for accepted ones, then drops the owner's reference; the resources are released
/// exactly once, by whoever drops the last reference (so a timed-out close never frees memory or
/// a descriptor that a request still uses). Lock free: requests only touch one counter.
/// </summary>
internal sealed class VolumeLifetime(string name, Action release, ILogger logger)
{
    private int _references = 1;
    private int _closed;
    private int _released;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Takes a reference for a request; false once closing has begun (complete it with ENODEV).</summary>
    public bool TryEnter()
    {
        Interlocked.Increment(ref _references);
        if (Volatile.Read(ref _closed) != 0)
        {
            Exit();
            return false;
        }

        return true;
    }

    /// <summary>Drops a request's reference, after its completion was delivered.</summary>
    public void Exit()
    {
        if (Interlocked.Decrement(ref _references) == 0 && Interlocked.Exchange(ref _released, 1) == 0)
        {
            try
            {
                release();
            }
            catch (Exception ex)
            {
                Log.ReleaseFailed(logger, name, ex);
            }
        }
    }

    /// <summary>Refuses new requests, waits up to <paramref name="wait"/> for accepted ones, then drops the owner's reference.</summary>
    public void Close(TimeSpan wait)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        long start = Stopwatch.GetTimestamp();
        SpinWait spinner = default;
        while (Volatile.Read(ref _references) > 1)
        {
            if (Stopwatch.GetElapsedTime(start) > wait)
            {
                Log.DisposeTimedOut(logger, name, Volatile.Read(ref _references) - 1, wait);
                break;
            }

            spinner.SpinOnce(sleep1Threshold: 20);
        }

        Exit();
    }
}
