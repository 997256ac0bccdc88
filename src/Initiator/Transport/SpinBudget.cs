using System.Diagnostics;

namespace NovaStor.Initiator.Transport;

/// <summary>
/// How long the queue thread polls its socket before it sleeps in <c>poll</c>, learnt from the
/// waits it sees (the idea of the kernel's haltpoll governor). On a virtual machine a sleeping
/// thread's core halts, and waking it costs tens of microseconds; when the answer comes within
/// a spin that cost is gone (measured here: 4 KiB QD1 against a fast peer, p50 64 us sleeping at
/// once, 23 us spinning; against a file on this VM's disk, 72-86 us with a 50 us allowance that
/// never caught the answer, 50-62 us with 200 us). A spin only pays if it lasts until the answer,
/// so the budget follows the waits caught while spinning (four times their running mean, at most
/// the allowance, <see cref="NvmeConnectionOptions.PollMicroseconds"/>), halves after each wait
/// that had to sleep anyway, reaches zero against a slow peer or an idle queue, and is probed
/// again at the full allowance now and then. The CPU spent spinning per I/O therefore stays
/// below the wait it replaces.
/// </summary>
/// <remarks>Queue thread only.</remarks>
internal struct SpinBudget
{
    private static readonly long MinimumTicks = Stopwatch.Frequency * 2 / 1_000_000;

    /// <summary>With no budget, probe at the full allowance after this many waits (the peer may have got faster).</summary>
    private const int ProbeEvery = 256;

    /// <summary>Never spin longer than this: a longer wait is worth sleeping through.</summary>
    private readonly long _maxTicks;
    private long _ticks;
    private long _typicalCaught;
    private int _waitsWithout;

    /// <param name="maxMicroseconds">The allowance; 0 (or less) never spins, more than <see cref="NvmeConnectionOptions.MaxPollMicroseconds"/> is taken as that.</param>
    public SpinBudget(int maxMicroseconds)
    {
        _maxTicks = Stopwatch.Frequency * Math.Clamp(maxMicroseconds, 0, NvmeConnectionOptions.MaxPollMicroseconds) / 1_000_000;
        _ticks = _maxTicks;
    }

    /// <summary>Stopwatch ticks to spin before sleeping; 0 means sleep at once.</summary>
    public readonly long Ticks => _ticks;

    /// <summary>Learns from one wait: <paramref name="waited"/> ticks until data; <paramref name="caught"/> when it came while spinning.</summary>
    public void Learn(long waited, bool caught)
    {
        if (_ticks == 0)
        {
            if (_maxTicks > 0 && ++_waitsWithout >= ProbeEvery)
            {
                _waitsWithout = 0;
                _ticks = _maxTicks;
            }

            return;
        }

        if (caught)
        {
            _typicalCaught = _typicalCaught == 0 ? waited : ((_typicalCaught * 7) + waited) / 8;
            _ticks = Math.Clamp(4 * _typicalCaught, Math.Min(MinimumTicks, _maxTicks), _maxTicks);
            return;
        }

        // Slept anyway: spinning this time was wasted; spin less next time, and not at all after a few.
        _ticks /= 2;
        if (_ticks < MinimumTicks)
        {
            _ticks = 0;
        }
    }
}
