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
        var rented = new[] { pool.TryRent(), pool.TryRent(), pool.TryRent() };
        Assert.All(rented, Assert.NotNull);
        Assert.Null(pool.TryRent());
        Assert.Equal(3, pool.Created);

        pool.Return(rented[1]!);
        Assert.Same(rented[1], pool.TryRent());
        Assert.Equal(3, pool.Created);
        Assert.Equal(3, pool.InUse);
    }

    [Fact]
    public void Waiting_queues_are_told_one_per_returned_buffer_in_arrival_order()
    {
        using var pool = new CommandBufferPool(8192, 1);
        var only = pool.TryRent()!;
        Waiter first = new(), second = new();
        Assert.Null(pool.TryRent(first));
        Assert.Null(pool.TryRent(second));
        Assert.Null(pool.TryRent(first)); // registered once

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
        var only = pool.TryRent()!;
        Waiter leaving = new(), staying = new();
        pool.TryRent(leaving);
        pool.TryRent(staying);
        pool.CancelWait(leaving);
        pool.Return(only);
        Assert.Equal((0, 1), (leaving.Told, staying.Told));
    }

    [Fact]
    public void After_dispose_buffers_are_freed_as_they_come_back()
    {
        var pool = new CommandBufferPool(8192, 2);
        var kept = pool.TryRent()!;
        pool.Return(pool.TryRent()!);
        pool.Dispose();
        Assert.Null(pool.TryRent());
        pool.Return(kept);
        Assert.True(kept.IsDisposed);
        Assert.Equal(0, pool.Created);
    }
}
