using NovaStor.BlockEngine.Aio;

namespace NovaStor.BlockEngine;

/// <summary>Told when a <see cref="CommandBufferPool"/> that had none free has a buffer again.</summary>
public interface ICommandBufferWaiter
{
    /// <summary>Called once per registration, on the thread that returned the buffer; rent again from here.</summary>
    void CommandBufferAvailable();
}

/// <summary>
/// The data buffers of the commands of every queue on one reactor, bounded: <see cref="MaxBuffers"/>
/// slots of <see cref="BufferBytes"/> each, a slot's buffer made when the slot is first rented
/// (chunks of the reactor's registered memory while it has some, plain aligned memory after) and
/// kept. A command rents a slot when it needs data moved and returns it when its response has left;
/// a queue that finds none free waits (<see cref="ICommandBufferWaiter"/>), in arrival order with
/// the other waiting queues, instead of allocating: what hosts open cannot grow memory past the
/// configured bound (SPDK's shared data buffers, per poll group).
/// </summary>
/// <remarks>
/// <para>Renting and returning take no lock: the free slots are a lock-free stack
/// (<see cref="SlotFreeList"/>), so the queues of a reactor share no lock on the I/O path. The
/// waiting queues have a lock of their own, taken only when the pool ran dry: a renter that finds
/// nothing registers, then looks once more; a returner looks for waiters after it has given its slot
/// back. Whichever comes second sees the other, so no wake-up is lost.</para>
/// <para>Buffers are not cleared between commands (a command writes all the bytes it sends, or the
/// controller clears them first: see the target's QueueSession).</para>
/// </remarks>
public sealed class CommandBufferPool : IDisposable
{
    private readonly Func<int, AlignedBuffer?>? _tryRentRegistered;
    private readonly SlotFreeList _free;
    private readonly AlignedBuffer?[] _buffers;
    private readonly Queue<ICommandBufferWaiter> _waiters = new();
    private readonly Lock _waitersLock = new();
    private int _waiting;
    private int _created;
    private int _inUse;
    private volatile bool _disposed;

    /// <param name="bufferBytes">Size of every buffer: the largest transfer of one command.</param>
    /// <param name="maxBuffers">The most buffers that ever exist.</param>
    /// <param name="tryRentRegistered">Where the first buffers come from, while it has some (a reactor's registered memory).</param>
    public CommandBufferPool(int bufferBytes, int maxBuffers, Func<int, AlignedBuffer?>? tryRentRegistered = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferBytes, AlignedBuffer.Alignment);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBuffers, 1);
        BufferBytes = bufferBytes;
        MaxBuffers = maxBuffers;
        _tryRentRegistered = tryRentRegistered;
        _free = new SlotFreeList(maxBuffers);
        _buffers = new AlignedBuffer?[maxBuffers];
    }

    public int BufferBytes { get; }

    public int MaxBuffers { get; }

    /// <summary>Buffers made so far (the memory this pool holds is at most this many buffers).</summary>
    public int Created => Volatile.Read(ref _created);

    /// <summary>Slots rented and not yet returned.</summary>
    public int InUse => Volatile.Read(ref _inUse);

    /// <summary>The buffer of a rented slot.</summary>
    public AlignedBuffer this[int slot] => _buffers[slot]!;

    /// <summary>
    /// Rents a slot (its buffer: <see cref="this[int]"/>); false when all <see cref="MaxBuffers"/>
    /// are in use: <paramref name="waiter"/> (when given) is then told once one comes back.
    /// </summary>
    public bool TryRent(out int slot, ICommandBufferWaiter? waiter = null)
    {
        if (TryTake(out slot))
        {
            return true;
        }

        if (waiter is null || _disposed)
        {
            return false;
        }

        lock (_waitersLock)
        {
            if (!_waiters.Contains(waiter))
            {
                _waiters.Enqueue(waiter);
                Interlocked.Increment(ref _waiting);
            }
        }

        // A slot given back between the first look and the registration would wake nobody: look again.
        if (!TryTake(out slot))
        {
            return false;
        }

        CancelWait(waiter);
        return true;
    }

    /// <summary>Gives a rented slot back; the longest-waiting queue is told.</summary>
    public void Return(int slot)
    {
        Interlocked.Decrement(ref _inUse);
        _free.Return(slot);
        if (_disposed)
        {
            FreeIdleBuffers();
            return;
        }

        WakeNextWaiter();
    }

    /// <summary>
    /// Tells the longest-waiting queue, if any: after a return, and by a queue that was told but had
    /// nothing (left) to use the buffer for, so that the wake-up is not lost.
    /// </summary>
    public void WakeNextWaiter()
    {
        if (Volatile.Read(ref _waiting) == 0)
        {
            return;
        }

        ICommandBufferWaiter? waiter = null;
        lock (_waitersLock)
        {
            if (_waiters.TryDequeue(out waiter))
            {
                Interlocked.Decrement(ref _waiting);
            }
        }

        waiter?.CommandBufferAvailable();
    }

    /// <summary>A queue stops waiting (it closes, or it got a slot after all).</summary>
    public void CancelWait(ICommandBufferWaiter waiter)
    {
        lock (_waitersLock)
        {
            if (!_waiters.Contains(waiter))
            {
                return;
            }

            var others = _waiters.Where(w => !ReferenceEquals(w, waiter)).ToArray();
            _waiters.Clear();
            foreach (var other in others)
            {
                _waiters.Enqueue(other);
            }

            Volatile.Write(ref _waiting, _waiters.Count);
        }
    }

    /// <summary>Frees the idle buffers now and the rented ones as they come back; rents fail from now on.</summary>
    public void Dispose()
    {
        _disposed = true;
        lock (_waitersLock)
        {
            _waiters.Clear();
            Volatile.Write(ref _waiting, 0);
        }

        FreeIdleBuffers();
    }

    private bool TryTake(out int slot)
    {
        if (_disposed || !_free.TryTake(out slot))
        {
            slot = -1;
            return false;
        }

        Interlocked.Increment(ref _inUse);
        if (_buffers[slot] is null)
        {
            // Only the renter of a slot touches its entry until it gives the slot back.
            _buffers[slot] = _tryRentRegistered?.Invoke(BufferBytes) ?? new AlignedBuffer(BufferBytes);
            Interlocked.Increment(ref _created);
        }

        return true;
    }

    /// <summary>After disposal: takes every free slot for good and frees its buffer (Dispose and a late Return may both run it).</summary>
    private void FreeIdleBuffers()
    {
        while (_free.TryTake(out int slot))
        {
            if (_buffers[slot] is { } buffer)
            {
                _buffers[slot] = null;
                buffer.Dispose();
                Interlocked.Decrement(ref _created);
            }
        }
    }
}
