using Xunit;

namespace NovaStor.BlockEngine.Tests;

public sealed class CommandBufferPoolTests
{
    private sealed class Waiter : ICommandBufferWaiter
    {
        public int Told;

        public void CommandBufferAvailable() => Told++;
    }

    [Fact]
    public void No_more_than_the_maximum_ever_exists_and_returned_buffers_are_reused()
    {
        using var pool = new CommandBufferPool(8192, 3);
        var slots = new int[3];
        for (int i = 0; i < slots.Length; i++)
        {
            Assert.True(pool.TryRent(out slots[i]));
        }

        Assert.False(pool.TryRent(out _));
        Assert.Equal(3, pool.Created);
        var second = pool[slots[1]];

        pool.Return(slots[1]);
        Assert.True(pool.TryRent(out int again));
        Assert.Same(second, pool[again]);
        Assert.Equal(3, pool.Created);
        Assert.Equal(3, pool.InUse);
    }

    [Fact]
    public void Waiting_queues_are_told_one_per_returned_buffer_in_arrival_order()
    {
        using var pool = new CommandBufferPool(8192, 1);
        Assert.True(pool.TryRent(out int only));
        Waiter first = new(), second = new();
        Assert.False(pool.TryRent(out _, first));
        Assert.False(pool.TryRent(out _, second));
        Assert.False(pool.TryRent(out _, first)); // registered once

        pool.Return(only);
        Assert.Equal((1, 0), (first.Told, second.Told));

        // The first had nothing left to use it for: the wake-up passes on.
        pool.WakeNextWaiter();
        Assert.Equal((1, 1), (first.Told, second.Told));
    }

    [Fact]
    public void A_cancelled_waiter_is_not_told()
    {
        using var pool = new CommandBufferPool(8192, 1);
        Assert.True(pool.TryRent(out int only));
        Waiter leaving = new(), staying = new();
        pool.TryRent(out _, leaving);
        pool.TryRent(out _, staying);
        pool.CancelWait(leaving);
        pool.Return(only);
        Assert.Equal((0, 1), (leaving.Told, staying.Told));
    }

    [Fact]
    public void Renters_on_many_threads_never_share_a_slot_and_every_wait_ends()
    {
        using var pool = new CommandBufferPool(4096, 4);
        var owners = new int[4];
        int rents = 0;
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                if (!pool.TryRent(out int slot))
                {
                    continue;
                }

                Assert.Equal(0, Interlocked.Exchange(ref owners[slot], 1));
                pool[slot].Span[0] = (byte)slot;
                Interlocked.Increment(ref rents);
                Assert.Equal(1, Interlocked.Exchange(ref owners[slot], 0));
                pool.Return(slot);
            }
        });

        Assert.True(rents > 0);
        Assert.Equal(0, pool.InUse);
        Assert.True(pool.Created <= 4);
    }

    [Fact]
    public void After_dispose_buffers_are_freed_as_they_come_back()
    {
        var pool = new CommandBufferPool(8192, 2);
        Assert.True(pool.TryRent(out int kept));
        var keptBuffer = pool[kept];
        Assert.True(pool.TryRent(out int other));
        pool.Return(other);
        pool.Dispose();
        Assert.False(pool.TryRent(out _));
        pool.Return(kept);
        Assert.True(keptBuffer.IsDisposed);
        Assert.Equal(0, pool.Created);
    }
}
