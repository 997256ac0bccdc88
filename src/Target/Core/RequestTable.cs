using NovaStor.BlockEngine;

namespace NovaStor.Target.Core;

/// <summary>
/// A queue's command slots: a fixed table created when the queue is accepted, with requests and
/// their buffers made on first use and reused after. The receive path rents, the send path
/// returns; the lock is this queue's own and never shared with another queue.
/// </summary>
internal sealed class RequestTable : IDisposable
{
    private readonly NvmeRequest?[] _slots;
    private readonly Stack<ushort> _free;
    private readonly int _maxTransfer;
    private readonly Lock _lock = new();

    /// <param name="lane">Where this queue's I/O runs; command buffers are rented from it.</param>
    public RequestTable(int capacity, int maxTransfer, EngineLane? lane = null)
    {
        Lane = lane ?? EngineLane.Unbound;
        _slots = new NvmeRequest?[capacity];
        _free = new Stack<ushort>(capacity);
        for (int slot = capacity - 1; slot >= 0; slot--)
        {
            _free.Push((ushort)slot);
        }

        _maxTransfer = maxTransfer;
    }

    public int Capacity => _slots.Length;

    public EngineLane Lane { get; }

    /// <summary>The request in a slot (user data from the engine, or an R2T transfer tag).</summary>
    public NvmeRequest? this[int slot] => (uint)slot < (uint)_slots.Length ? _slots[slot] : null;

    /// <summary>A free request, or null when the host has more commands outstanding than the queue holds.</summary>
    public NvmeRequest? Rent()
    {
        lock (_lock)
        {
            if (!_free.TryPop(out ushort slot))
            {
                return null;
            }

            return _slots[slot] ??= new NvmeRequest(slot, _maxTransfer, Lane);
        }
    }

    public void Return(NvmeRequest request)
    {
        lock (_lock)
        {
            _free.Push(request.Slot);
        }
    }

    /// <summary>Commands handed out and not yet returned.</summary>
    public int Outstanding
    {
        get
        {
            lock (_lock)
            {
                return _slots.Length - _free.Count;
            }
        }
    }

    public void Dispose()
    {
        foreach (var request in _slots)
        {
            request?.Dispose();
        }
    }
}
