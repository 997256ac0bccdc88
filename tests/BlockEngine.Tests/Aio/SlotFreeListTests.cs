using NovaStor.BlockEngine.Aio;

namespace NovaStor.BlockEngine.Tests;

public sealed class SlotFreeListTests
{
    [Fact]
    public void EverySlotIsTakenOnceThenTheListIsEmpty()
    {
        var list = new SlotFreeList(5);
        var taken = new HashSet<int>();
        while (list.TryTake(out int slot))
        {
            Assert.True(taken.Add(slot), $"slot {slot} taken twice");
        }
        Assert.Equal([0, 1, 2, 3, 4], taken.Order());
        list.Return(3);
        Assert.True(list.TryTake(out int again));
        Assert.Equal(3, again);
        Assert.False(list.TryTake(out _));
    }

    [Fact]
    public void ThreadsTakingAndReturningNeverShareASlot()
    {
        const int Slots = 8;
        const int Threads = 6;
        const int Rounds = 200_000;
        var list = new SlotFreeList(Slots);
        int[] owners = new int[Slots];
        int conflicts = 0;
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, thread =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                if (!list.TryTake(out int slot))
                {
                    continue;
                }
                if (Interlocked.Exchange(ref owners[slot], thread + 1) != 0)
                {
                    Interlocked.Increment(ref conflicts);
                }
                Interlocked.Exchange(ref owners[slot], 0);
                list.Return(slot);
            }
        });
        Assert.Equal(0, conflicts);
        int count = 0;
        while (list.TryTake(out _))
        {
            count++;
        }
        Assert.Equal(Slots, count);
    }
}
