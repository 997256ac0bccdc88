using System.Diagnostics;
using NovaStor.Initiator.Transport;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// How long a queue thread polls for an answer before it sleeps (<see cref="SpinBudget"/>, set by
/// <see cref="NvmeConnectionOptions.PollMicroseconds"/>): it follows the waits it catches, never
/// passes its allowance, stops after waits it slept through anyway, and with no allowance never
/// polls at all; whatever the setting, the data comes back.
/// </summary>
public sealed class PollingTests(SharedTarget shared) : IClassFixture<SharedTarget>
{
    private static long Microseconds(int value) => Stopwatch.Frequency * value / 1_000_000;

    [Fact]
    public void The_default_allowance_is_200_microseconds()
    {
        Assert.Equal(200, new NvmeConnectionOptions().PollMicroseconds);
        Assert.Equal(200, new HostQueueOptions().PollMicroseconds);
        Assert.Equal(Microseconds(200), new SpinBudget(200).Ticks);
    }

    [Fact]
    public void The_budget_follows_the_waits_it_caught_and_never_passes_the_allowance()
    {
        var budget = new SpinBudget(200);
        for (int i = 0; i < 50; i++)
        {
            budget.Learn(Microseconds(10), caught: true);
        }

        Assert.InRange(budget.Ticks, Microseconds(36), Microseconds(44)); // four times the 10 us waits

        for (int i = 0; i < 50; i++)
        {
            budget.Learn(Microseconds(150), caught: true);
        }

        Assert.Equal(Microseconds(200), budget.Ticks);
    }

    [Fact]
    public void Waits_it_slept_through_bring_it_to_zero_then_it_tries_the_full_allowance_again()
    {
        var budget = new SpinBudget(200);
        int waits = 0;
        while (budget.Ticks > 0)
        {
            budget.Learn(Microseconds(1000), caught: false);
            Assert.True(++waits < 20, "the budget should halve to zero within a few waits");
        }

        for (int i = 0; i < 255; i++)
        {
            budget.Learn(Microseconds(1000), caught: false);
            Assert.Equal(0, budget.Ticks);
        }

        budget.Learn(Microseconds(1000), caught: false);
        Assert.Equal(Microseconds(200), budget.Ticks);
    }

    [Fact]
    public void No_allowance_never_polls_not_even_to_try_again()
    {
        var budget = new SpinBudget(0);
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(0, budget.Ticks);
            budget.Learn(Microseconds(500), caught: false);
        }

        Assert.Equal(0, budget.Ticks);
    }

    [Theory]
    [InlineData(-5, 0)]
    [InlineData(50_000, 10_000)]
    public void An_allowance_outside_0_to_10_ms_is_taken_as_the_nearest_end(int given, int taken)
        => Assert.Equal(Microseconds(taken), new SpinBudget(given).Ticks);

    [Theory]
    [InlineData(0, 0)]
    [InlineData(10_000, 1)]
    public async Task Data_comes_back_whether_the_queue_never_polls_or_polls_long(int pollMicroseconds, int lane)
    {
        var options = new NvmeConnectionOptions { PollMicroseconds = pollMicroseconds, InlineCompletions = true };
        await using var controller = await Support.ConnectAsync(shared.Target, options);
        var ns = controller.Namespace(1);
        ulong first = 760_000 + ((ulong)lane * 10_000);
        for (int round = 0; round < 50; round++)
        {
            int length = round % 2 == 0 ? 4096 : 65536; // in-capsule and R2T writes
            byte[] data = Support.RandomBytes(length, (lane * 100) + round);
            ulong block = first + ((ulong)round * 128);
            Support.AssertSuccess(await ns.WriteAsync(block, data).AsTask().WaitAsync(TimeSpan.FromSeconds(10)), "Write");
            byte[] back = new byte[length];
            Support.AssertSuccess(await ns.ReadAsync(block, back).AsTask().WaitAsync(TimeSpan.FromSeconds(10)), "Read");
            Assert.True(back.AsSpan().SequenceEqual(data), $"round {round} read other bytes");
        }
    }
}
