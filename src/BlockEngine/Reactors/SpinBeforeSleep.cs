using System.Diagnostics;

namespace NovaStor.BlockEngine.Reactors;

/// <summary>
/// How long a reactor polls its ring before it sleeps, learnt from the waits it sees (the idea of
/// the kernel's haltpoll governor). On a virtual machine an idle core halts, and waking it costs
/// tens of microseconds, which a queue at depth 1 pays on every command; polling the ring's flags
/// costs no system call; a reactor waiting on a disk request (tens to hundreds of microseconds)
/// pays it too. A poll only pays when work arrives during it, so the budget follows the
/// waits it caught (four times their running mean, at most the allowance), halves
/// after each wait it had to sleep through anyway, reaches zero under light or bursty load (an
/// idle reactor does not spin), and is tried again at the full allowance every
/// <see cref="ProbeEvery"/> sleeps. The CPU spent polling therefore stays below the waits it saves.
/// </summary>
/// <remarks>Reactor thread only.</remarks>
internal struct SpinBeforeSleep
{
    private const int ProbeEvery = 128;
    private static readonly long MinimumTicks = Stopwatch.Frequency * 2 / 1_000_000;

    private readonly long _maxTicks;
    private long _budget;
    private long _typicalCaught;
    private int _sleepsWithout;

    /// <param name="maxMicroseconds">The longest poll; 0 never polls.</param>
    public SpinBeforeSleep(int maxMicroseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxMicroseconds);
        _maxTicks = Stopwatch.Frequency * maxMicroseconds / 1_000_000;
    }

    /// <summary>Stopwatch ticks to poll before sleeping; 0: sleep at once.</summary>
    public readonly long BudgetTicks => _budget;

    /// <summary>Work arrived <paramref name="waited"/> ticks into the poll: keep polling about that long.</summary>
    public void Caught(long waited)
    {
        _typicalCaught = _typicalCaught == 0 ? waited : ((_typicalCaught * 7) + waited) / 8;
        _budget = Math.Clamp(4 * _typicalCaught, MinimumTicks, _maxTicks);
    }

    /// <summary>The reactor slept (after polling its budget, or at once with none).</summary>
    public void Slept()
    {
        if (_budget == 0)
        {
            if (++_sleepsWithout >= ProbeEvery)
            {
                _sleepsWithout = 0;
                _budget = _maxTicks;
            }

            return;
        }

        _budget /= 2;
        if (_budget < MinimumTicks)
        {
            _budget = 0;
        }
    }
}
