namespace NovaStor.BlockEngine;

/// <summary>Told when a <see cref="CommandBufferPool"/> that had none free has a buffer again.</summary>
public interface ICommandBufferWaiter
{
    /// <summary>Called once per registration, on the thread that returned the buffer; rent again from here.</summary>
    void CommandBufferAvailable();
}

/// <summary>
/// The data buffers of the commands of every queue on one reactor, bounded: at most
/// <see cref="MaxBuffers"/> of <see cref="BufferBytes"/> each ever exist, made on first need
/// (chunks of the reactor's registered memory while it has some, plain aligned memory after) and
/// reused after. A command rents one when it needs data moved and returns it when its response has
/// left; a queue that finds none free waits (<see cref="ICommandBufferWaiter"/>), in arrival order
/// with the other waiting queues, instead of allocating: what hosts open cannot grow memory past
/// the configured bound (SPDK's shared data buffers, per poll group).
/// </summary>
/// <remarks>
/// Buffers are not cleared between commands (a command writes all the bytes it sends, or the
/// controller clears them first: see the target's QueueSession). The lock is held for a push or a
/// pop; on a reactor every renter is the reactor's own thread, so it is never contended there.
/// </remarks>
public sealed class CommandBufferPool : IDisposable
{
    private readonly Func<int, AlignedBuffer?>? _tryRentRegistered;
    private readonly Stack<AlignedBuffer> _free = new();
    private readonly Queue<ICommandBufferWaiter> _waiters = new();
    private readonly Lock _lock = new();
    private int _created;
    private int _inUse;
    private bool _disposed;

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
    }

    public int BufferBytes { get; }

    public int MaxBuffers { get; }

    /// <summary>Buffers made so far (the memory this pool holds is at most this many buffers).</summary>
    public int Created
    {
        get
        {
            lock (_lock)
            {
                return _created;
            }
        }
    }

    /// <summary>Buffers rented and not yet returned.</summary>
    public int InUse
    {
        get
        {
            lock (_lock)
            {
                return _inUse;
            }
        }
    }

    /// <summary>
    /// A buffer of <see cref="BufferBytes"/>, or null when all <see cref="MaxBuffers"/> are in use:
    /// <paramref name="waiter"/> (when given) is then told once one comes back.
    /// </summary>
    public AlignedBuffer? TryRent(ICommandBufferWaiter? waiter = null)
    {
        bool create;
        lock (_lock)
        {
            if (_free.TryPop(out var buffer))
            {
                _inUse++;
                return buffer;
            }

            create = !_disposed && _created < MaxBuffers;
            if (!create)
            {
                if (waiter is not null && !_waiters.Contains(waiter))
                {
                    _waiters.Enqueue(waiter);
                }

                return null;
            }

            _created++;
            _inUse++;
        }

        return _tryRentRegistered?.Invoke(BufferBytes) ?? new AlignedBuffer(BufferBytes);
    }

    /// <summary>Gives a rented buffer back; the longest-waiting queue is told.</summary>
    public void Return(AlignedBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ICommandBufferWaiter? waiter;
        lock (_lock)
        {
            _inUse--;
            if (_disposed)
            {
                _created--;
                buffer.Dispose();
                return;
            }

            _free.Push(buffer);
            _waiters.TryDequeue(out waiter);
        }

        waiter?.CommandBufferAvailable();
    }

    /// <summary>
    /// Tells the longest-waiting queue, if a buffer is free: for a queue that was told but had
    /// nothing (left) to use it for, so that the wake-up is not lost.
    /// </summary>
    public void WakeNextWaiter()
    {
        ICommandBufferWaiter? waiter = null;
        lock (_lock)
        {
            if ((_free.Count > 0 || (!_disposed && _created < MaxBuffers)) && _waiters.TryDequeue(out var next))
            {
                waiter = next;
            }
        }

        waiter?.CommandBufferAvailable();
    }

    /// <summary>A closing queue stops waiting.</summary>
    public void CancelWait(ICommandBufferWaiter waiter)
    {
        lock (_lock)
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
        }
    }

    /// <summary>Frees the free buffers now and the rented ones as they come back; rents fail from now on.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            while (_free.TryPop(out var buffer))
            {
                _created--;
                buffer.Dispose();
            }

            _waiters.Clear();
        }
    }
}
