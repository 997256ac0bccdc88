using System.Diagnostics;
using System.Numerics;

namespace NovaStor.Load;

/// <summary>
/// Latencies in Stopwatch ticks in log-linear buckets (exact below 128 ticks, then each power of two
/// split into 64), allocated once: recording is an index computation and two interlocked
/// increments, cheap enough for the completion path of every I/O. Resolution is 1/64 of the value
/// (about 1.6 %), finer than fio's own clat histogram.
/// </summary>
public sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int Direct = 2 * SubBuckets;
    private const int MaxExponent = 63 - SubBucketBits;

    private readonly long[] _counts = new long[Direct + MaxExponent * SubBuckets];
    private long _total;

    public long Count => Volatile.Read(ref _total);

    /// <summary>Thread safe: completions arrive on several threads at once.</summary>
    public void Record(long ticks)
    {
        Interlocked.Increment(ref _counts[BucketOf((ulong)Math.Max(ticks, 0))]);
        Interlocked.Increment(ref _total);
    }

    public void Clear()
    {
        Array.Clear(_counts);
        Volatile.Write(ref _total, 0);
    }

    /// <summary>The latency below which <paramref name="percent"/> % of the samples fall, in microseconds (0 when empty).</summary>
    public double PercentileMicros(double percent)
    {
        long total = Count;
        if (total == 0)
        {
            return 0;
        }
        long rank = Math.Max(1, (long)Math.Ceiling(total * percent / 100.0));
        long seen = 0;
        int bucket = 0;
        for (; bucket < _counts.Length - 1; bucket++)
        {
            seen += _counts[bucket];
            if (seen >= rank)
            {
                break;
            }
        }
        return MidpointOf(bucket) * 1_000_000.0 / Stopwatch.Frequency;
    }

    private static int BucketOf(ulong value)
    {
        if (value < Direct)
        {
            return (int)value;
        }
        int exponent = 63 - BitOperations.LeadingZeroCount(value) - SubBucketBits; // 1 and up
        int sub = (int)(value >> exponent) - SubBuckets; // the 6 bits after the leading one
        return Direct + (exponent - 1) * SubBuckets + sub;
    }

    private static double MidpointOf(int bucket)
    {
        if (bucket < Direct)
        {
            return bucket;
        }
        int exponent = (bucket - Direct) / SubBuckets + 1;
        int sub = (bucket - Direct) % SubBuckets;
        double low = (double)(SubBuckets + sub) * (1L << exponent);
        return low + (1L << exponent) / 2.0;
    }
}
