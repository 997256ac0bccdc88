namespace NovaStor.BlockEngine.Aio;

/// <summary>
/// A lock-free stack of free slot indexes (a Treiber stack over an int array): any thread takes a
/// slot when it submits, the reactor gives it back when the request completes. The head carries a
/// 32-bit tag bumped on every change, so a pop that read an index which was taken and given back
/// meanwhile fails its compare-exchange instead of linking a stale successor (the ABA problem).
/// </summary>
internal sealed class SlotFreeList
{
    private const int Empty = -1;
    private readonly int[] _next;
    private long _head; // high 32 bits: tag; low 32 bits: index of the top slot, or -1

    /// <summary>All of slots 0..capacity-1 free; slot 0 is taken first.</summary>
    public SlotFreeList(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _next = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _next[i] = i + 1 < capacity ? i + 1 : Empty;
        }
        _head = Pack(0, 0);
    }

    public int Capacity => _next.Length;

    /// <summary>Takes a free slot; false when all are in use.</summary>
    public bool TryTake(out int slot)
    {
        while (true)
        {
            long head = Volatile.Read(ref _head);
            int top = (int)head;
            if (top == Empty)
            {
                slot = Empty;
                return false;
            }

            int next = Volatile.Read(ref _next[top]);
            if (Interlocked.CompareExchange(ref _head, Pack(Tag(head) + 1, next), head) == head)
            {
                slot = top;
                return true;
            }
        }
    }

    /// <summary>Gives back a slot taken with <see cref="TryTake"/>.</summary>
    public void Return(int slot)
    {
        while (true)
        {
            long head = Volatile.Read(ref _head);
            Volatile.Write(ref _next[slot], (int)head);
            if (Interlocked.CompareExchange(ref _head, Pack(Tag(head) + 1, slot), head) == head)
            {
                return;
            }
        }
    }

    private static uint Tag(long head) => (uint)((ulong)head >> 32);

    private static long Pack(uint tag, int index) => (long)(((ulong)tag << 32) | (uint)index);
}
