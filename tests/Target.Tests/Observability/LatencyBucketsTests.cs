using System.Diagnostics;
using NovaStor.Target.Core.Statistics;
using Xunit;

namespace NovaStor.Target.Tests.Observability;

/// <summary>Which bucket a latency lands in: bounds are inclusive, in whole microseconds rounded up.</summary>
public sealed class LatencyBucketsTests
{
    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(0.5, 0)]
    [InlineData(1.0, 0)]
    [InlineData(1.5, 1)]
    [InlineData(2.0, 1)]
    [InlineData(3.0, 2)]
    [InlineData(4.0, 2)]
    [InlineData(5.0, 3)]
    [InlineData(100.0, 7)]      // (64, 128]
    [InlineData(1024.0, 10)]
    [InlineData(1025.0, 11)]
    [InlineData(1048576.0, 20)] // the last finite bound, 2^20 us
    [InlineData(1048577.0, 21)] // overflow
    [InlineData(60e6, 21)]
    public void A_latency_lands_under_the_first_bound_at_or_above_it(double microseconds, int expected)
    {
        long ticks = (long)Math.Round(microseconds * Stopwatch.Frequency / 1e6);
        Assert.Equal(expected, LatencyBuckets.IndexOf(ticks));
    }

    [Fact]
    public void Bounds_are_powers_of_two_microseconds_up_to_about_one_second_then_overflow()
    {
        Assert.Equal(LatencyBuckets.Count + 1, LatencyBuckets.Slots);
        Assert.Equal(LatencyBuckets.Count, LatencyBuckets.Overflow);
        Assert.Equal(1, LatencyBuckets.UpperBoundMicroseconds(0));
        Assert.Equal(1 << 20, LatencyBuckets.UpperBoundMicroseconds(LatencyBuckets.Count - 1));
        Assert.Equal(0, LatencyBuckets.IndexOf(-5)); // a clock that stepped back counts as instant, not as overflow
    }
}
