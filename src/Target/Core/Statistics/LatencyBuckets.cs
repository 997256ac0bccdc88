using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace NovaStor.Target.Core.Statistics;

/// <summary>
/// The latency histogram's fixed buckets: bucket i counts the commands that took more than
/// 2^(i-1) and at most 2^i microseconds (bucket 0: at most 1 us), up to 2^20 us (about 1.05 s);
/// one more slot counts the slower ones (overflow). Times are Stopwatch ticks, rounded up to
/// whole microseconds, so a command of 1.5 us counts under the 2 us bound.
/// </summary>
internal static class LatencyBuckets
{
    /// <summary>Finite buckets (upper bounds 1 us .. 2^20 us).</summary>
    public const int Count = 21;

    /// <summary>Counters per histogram: the finite buckets and the overflow.</summary>
    public const int Slots = Count + 1;

    /// <summary>The slot of the commands slower than the last bound.</summary>
    public const int Overflow = Count;

    // A static readonly the JIT treats as a constant: the division below becomes a multiplication.
    private static readonly long TicksPerMicrosecond = Math.Max(1, Stopwatch.Frequency / 1_000_000);

    /// <summary>The upper bound of finite bucket <paramref name="index"/>, in microseconds.</summary>
    public static long UpperBoundMicroseconds(int index) => 1L << index;

    /// <summary>The slot (0..<see cref="Overflow"/>) of a command that took <paramref name="elapsedTicks"/> Stopwatch ticks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IndexOf(long elapsedTicks)
    {
        ulong microseconds = (ulong)Math.Max(0, elapsedTicks + TicksPerMicrosecond - 1) / (ulong)TicksPerMicrosecond;
        return microseconds <= 1 ? 0 : Math.Min(BitOperations.Log2(microseconds - 1) + 1, Overflow);
    }

    public static double TicksToMicroseconds(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}
