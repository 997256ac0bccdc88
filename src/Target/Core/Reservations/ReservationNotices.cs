using NovaStor.Protocol;

namespace NovaStor.Target.Core.Reservations;

/// <summary>
/// One controller's reservation notification log (log page 80h) and its per-namespace masks
/// (feature 82h). Not thread safe: the controller calls it under its lock.
/// </summary>
internal sealed class ReservationNotices
{
    /// <summary>Unread notifications kept; older ones are dropped and the gap in the count shows it.</summary>
    public const int Capacity = 64;

    /// <summary>Mask bits the feature defines: 1 registration preempted, 2 reservation released, 3 reservation preempted.</summary>
    public const uint MaskBits = 0b1110;

    private readonly Queue<ReservationNotification> _unread = new();
    private readonly Dictionary<uint, uint> _masks = [];
    private ulong _count;
    private bool _eventOutstanding;

    /// <summary>Adds a notification; true when the host should get an asynchronous event for it.</summary>
    public bool Add(uint namespaceId, ReservationNotificationType type)
    {
        if ((Mask(namespaceId) & (1u << (int)type)) != 0)
        {
            return false;
        }

        if (_unread.Count == Capacity)
        {
            _unread.Dequeue();
        }

        _unread.Enqueue(new ReservationNotification(++_count, type, 0, namespaceId));
        if (_eventOutstanding)
        {
            return false;
        }

        _eventOutstanding = true;
        return true;
    }

    /// <summary>The oldest unread notification, or an empty page; reading it re-arms the event unless <paramref name="retainEvent"/>.</summary>
    public ReservationNotification Take(bool retainEvent)
    {
        if (!retainEvent)
        {
            _eventOutstanding = false;
        }

        if (!_unread.TryDequeue(out var oldest))
        {
            return default;
        }

        return oldest with { AvailableAfter = (byte)Math.Min(_unread.Count, byte.MaxValue) };
    }

    public uint Mask(uint namespaceId) => _masks.GetValueOrDefault(namespaceId);

    public void SetMask(uint namespaceId, uint mask) => _masks[namespaceId] = mask & MaskBits;
}
