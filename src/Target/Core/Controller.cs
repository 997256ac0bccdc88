using Microsoft.Extensions.Logging;
using NovaStor.Protocol;
using NovaStor.Target.Core.Reservations;

namespace NovaStor.Target.Core;

/// <summary>
/// One controller: the association of a host with a subsystem, made by the admin queue's
/// Connect and joined by I/O queues. Its state (CC, CSTS, features, keep-alive) changes only
/// on the admin path and under its own lock, never on the I/O path.
/// </summary>
internal sealed class Controller : IDisposable
{
    /// <summary>I/O queues a host may create (the Number of Queues feature grants up to this).</summary>
    public const int MaxIoQueues = 64;

    /// <summary>Outstanding Asynchronous Event Requests allowed (AERL is 0-based).</summary>
    public const int MaxAsyncEventRequests = 4;

    /// <summary>Asynchronous event completion DW0: type 2h (notice), information 03h (ANA change), log page 0Ch.</summary>
    private const uint AnaChangeEvent = 0x2u | (0x03u << 8) | ((uint)LogPageIdentifiers.Ana << 16);

    /// <summary>AEC bit 11: the host wants ANA change notices.</summary>
    private const uint AnaChangeNoticesEnabled = 1u << 11;

    /// <summary>
    /// Asynchronous event completion DW0: type 6h (I/O command specific status), information 00h
    /// (reservation log page available), log page 80h.
    /// </summary>
    private const uint ReservationLogAvailableEvent = 0x6u | (0x00u << 8) | ((uint)LogPageIdentifiers.ReservationNotification << 16);

    /// <summary>Asynchronous event completion DW0: type 2h (notice), information 00h (namespace attribute changed), log page 04h.</summary>
    private const uint NamespaceAttributeChangedEvent = 0x2u | (0x00u << 8) | ((uint)LogPageIdentifiers.ChangedNamespaces << 16);

    /// <summary>AEC bit 8: the host wants Namespace Attribute Notices.</summary>
    private const uint NamespaceAttributeNoticesEnabled = 1u << 8;

    private readonly Lock _lock = new();
    private readonly QueueSession?[] _queues = new QueueSession?[MaxIoQueues + 1];
    private readonly Queue<NvmeRequest> _asyncEventRequests = new();
    // Events raised while no Asynchronous Event Request was parked: completed by the next one.
    private readonly Queue<uint> _pendingEvents = new();
    private readonly ReservationNotices _reservationNotices = new();
    // An ANA change event was sent and the host has not read the ANA log since: no other one.
    private bool _anaEventOutstanding;
    // NSIDs added, removed or resized since the host last read log page 04h (more than the page
    // holds: overflowed), and whether the notice for them is still unread.
    private readonly SortedSet<uint> _changedNamespaces = [];
    private bool _changedNamespacesOverflowed;
    private bool _namespaceEventOutstanding;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    // I/O queues a reset disconnected that have not detached yet, and the SMART counters of queues
    // that have: the SMART log must not go backwards when a queue closes or reconnects.
    private readonly HashSet<QueueSession> _leaving = [];
    private readonly Statistics.IoTotals _retired = new();
    private ITimer? _keepAliveTimer;
    private long _lastKeepAliveTicks;
    private bool _disposed;

    public Controller(ushort id, Subsystem subsystem, string hostNqn, Guid hostId, uint keepAliveTimeoutMs, TimeProvider time, ILogger logger, ushort portId = 1,
        string remoteAddress = "")
    {
        Id = id;
        RemoteAddress = remoteAddress;
        ConnectedAt = time.GetUtcNow();
        PortId = portId;
        Subsystem = subsystem;
        HostNqn = hostNqn;
        HostId = hostId;
        _time = time;
        _logger = logger;
        KeepAliveTimeoutMs = keepAliveTimeoutMs;
        ConnectKeepAliveTimeoutMs = keepAliveTimeoutMs;
        _lastKeepAliveTicks = _time.GetTimestamp();
        ArmKeepAliveTimer();
    }

    public ushort Id { get; }

    /// <summary>The port (listener) the admin queue came through: its ANA states are this controller's.</summary>
    public ushort PortId { get; }

    /// <summary>Where the admin queue's connection came from.</summary>
    public string RemoteAddress { get; }

    /// <summary>When the admin queue connected.</summary>
    public DateTimeOffset ConnectedAt { get; }
    public Subsystem Subsystem { get; }
    public string HostNqn { get; }
    public Guid HostId { get; }
    public bool IsDiscovery => Subsystem.IsDiscovery;

    /// <summary>KATO in milliseconds; 0 disables keep-alive enforcement.</summary>
    public uint KeepAliveTimeoutMs { get; private set; }

    /// <summary>The KATO the host gave in Connect: the Keep Alive Timer feature's default value.</summary>
    public uint ConnectKeepAliveTimeoutMs { get; }

    public uint Configuration { get; private set; }
    public ControllerStatus Status { get; private set; }
    public bool IsReady => (Status & ControllerStatus.Ready) != 0 && (Status & ControllerStatus.ControllerFatalStatus) == 0;

    /// <summary>The failed commands of this controller (log page 01h, SMART error counts).</summary>
    public ErrorInformationLog Errors { get; } = new();

    /// <summary>Feature values the host set (or their defaults).</summary>
    public bool VolatileWriteCacheEnabled { get; set; } = true;
    public uint AsyncEventConfiguration { get; set; }
    public int GrantedIoQueues { get; private set; } = MaxIoQueues;

    private readonly int _ioQueueLimit = MaxIoQueues;

    /// <summary>The most I/O queues this controller grants (TargetLimits.MaxIoQueuesPerController, at most <see cref="MaxIoQueues"/>).</summary>
    public int IoQueueLimit
    {
        get => _ioQueueLimit;
        init
        {
            _ioQueueLimit = Math.Clamp(value, 1, MaxIoQueues);
            GrantedIoQueues = _ioQueueLimit;
        }
    }

    /// <summary>Runs once when the controller is torn down (returns its place in the controller limits).</summary>
    public Action? Removed { get; init; }

    /// <summary>Number of Queues may be set once, before any I/O queue exists.</summary>
    public int SetGrantedIoQueues(int requested)
    {
        lock (_lock)
        {
            GrantedIoQueues = Math.Clamp(requested, 1, _ioQueueLimit);
            return GrantedIoQueues;
        }
    }

    /// <summary>Attaches a queue; false when the id is out of range or already connected.</summary>
    public bool TryAttach(ushort queueId, QueueSession queue)
    {
        lock (_lock)
        {
            if (_disposed || queueId > GrantedIoQueues || _queues[queueId] is not null)
            {
                return false;
            }

            if (queueId != 0 && !IsReady)
            {
                return false;
            }

            _queues[queueId] = queue;
            return true;
        }
    }

    /// <summary>A queue's connection ended. The admin queue takes the whole controller with it.</summary>
    public void Detach(ushort queueId, QueueSession queue)
    {
        bool adminGone;
        lock (_lock)
        {
            if (ReferenceEquals(_queues[queueId], queue))
            {
                _queues[queueId] = null;
            }

            // Each queue detaches once, when its connection has ended: keep what it counted.
            _leaving.Remove(queue);
            if (queue.Statistics is { } counted)
            {
                _retired.Add(counted.Snapshot());
            }
            adminGone = queueId == 0;
        }

        if (adminGone)
        {
            Teardown("admin queue closed");
        }
    }

    /// <summary>The queues attached now.</summary>
    public QueueSession[] ConnectedQueues()
    {
        lock (_lock)
        {
            return [.. _queues.OfType<QueueSession>()];
        }
    }

    /// <summary>
    /// What every queue this controller has had counted (the SMART log's commands and data units):
    /// attached, still closing after a reset, or closed. Taken under the lock, so a queue detaching
    /// meanwhile is counted once.
    /// </summary>
    public Statistics.IoTotals SmartCounters()
    {
        lock (_lock)
        {
            var totals = new Statistics.IoTotals();
            totals.Add(_retired);
            foreach (var queue in _queues.OfType<QueueSession>().Concat(_leaving))
            {
                if (queue.Statistics is { } counted)
                {
                    totals.Add(counted.Snapshot());
                }
            }

            return totals;
        }
    }

    /// <summary>Records a Keep Alive command.</summary>
    public void KeepAlive() => Volatile.Write(ref _lastKeepAliveTicks, _time.GetTimestamp());

    public void SetKeepAliveTimeout(uint milliseconds)
    {
        lock (_lock)
        {
            KeepAliveTimeoutMs = milliseconds;
            KeepAlive();
            ArmKeepAliveTimer();
        }
    }

    /// <summary>Property Set of CC: enable, reset (EN 1 -> 0) and shutdown notifications.</summary>
    public void SetConfiguration(uint value, Action<Action> flushAllThen)
    {
        var requested = new ControllerConfiguration(value);
        bool wasEnabled;
        lock (_lock)
        {
            wasEnabled = new ControllerConfiguration(Configuration).Enable;
            Configuration = value;
            if (requested.Enable && !wasEnabled)
            {
                // A fabrics controller is ready as soon as it is enabled: its queues already exist.
                Status = (Status & ~ControllerStatus.ShutdownComplete) | ControllerStatus.Ready;
            }
            else if (!requested.Enable && wasEnabled)
            {
                Status &= ~ControllerStatus.Ready;
            }
        }

        if (!requested.Enable && wasEnabled)
        {
            // Reset: the I/O queues go away; the host reconnects them.
            Log.ControllerReset(_logger, Subsystem.Nqn, Id);
            DisconnectIoQueues("controller reset");
        }

        if (requested.ShutdownNotification != 0)
        {
            lock (_lock)
            {
                Status = (Status & ~ControllerStatus.ShutdownComplete) | ControllerStatus.ShutdownOccurring;
            }

            // Shutdown makes every completed write durable before reporting completion.
            flushAllThen(() =>
            {
                lock (_lock)
                {
                    Status = (Status & ~ControllerStatus.ShutdownOccurring) | ControllerStatus.ShutdownComplete;
                }

                Log.ControllerShutdown(_logger, Subsystem.Nqn, Id);
            });
        }
    }

    /// <summary>Sets CSTS.CFS: the host sees a fatal controller status and resets the association.</summary>
    public void MarkFatal()
    {
        lock (_lock)
        {
            Status |= ControllerStatus.ControllerFatalStatus;
        }
    }

    /// <summary>
    /// Parks an Asynchronous Event Request, or completes it at once with an event raised while
    /// none was parked; false when the limit is reached.
    /// </summary>
    public bool AddAsyncEventRequest(NvmeRequest request)
    {
        uint result;
        lock (_lock)
        {
            if (!_pendingEvents.TryDequeue(out result))
            {
                if (_asyncEventRequests.Count >= MaxAsyncEventRequests)
                {
                    return false;
                }

                _asyncEventRequests.Enqueue(request);
                return true;
            }
        }

        CompleteEvent(request, result);
        return true;
    }

    /// <summary>
    /// A reservation notification for this controller's host (log page 80h): kept unless the
    /// namespace's Reservation Notification Mask hides its type, and announced by an asynchronous
    /// event unless one is already waiting for the host to read the log.
    /// </summary>
    public void NotifyReservation(uint namespaceId, ReservationNotificationType type)
    {
        NvmeRequest? waiting;
        lock (_lock)
        {
            if (_disposed || !_reservationNotices.Add(namespaceId, type))
            {
                return;
            }

            waiting = TakeWaitingRequestLocked(ReservationLogAvailableEvent);
        }

        CompleteEvent(waiting, ReservationLogAvailableEvent);
    }

    /// <summary>
    /// An ANA state changed on this controller's port: the ANA change notice, when the host enabled
    /// it (AEC bit 11), and only one until the host reads the ANA log.
    /// </summary>
    public void NotifyAnaChange()
    {
        NvmeRequest? waiting;
        lock (_lock)
        {
            if (_disposed || (AsyncEventConfiguration & AnaChangeNoticesEnabled) == 0 || _anaEventOutstanding)
            {
                return;
            }

            _anaEventOutstanding = true;
            waiting = TakeWaitingRequestLocked(AnaChangeEvent);
        }

        CompleteEvent(waiting, AnaChangeEvent);
    }

    /// <summary>
    /// A namespace of the subsystem was added, removed or resized: it joins the changed namespace
    /// list (log page 04h), and the Namespace Attribute Changed notice is sent when the host enabled
    /// it (AEC bit 8), once until the host reads that log, as nvmet does.
    /// </summary>
    public void NotifyNamespaceChanged(uint namespaceId)
    {
        NvmeRequest? waiting;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            if (!_changedNamespacesOverflowed && _changedNamespaces.Add(namespaceId) && _changedNamespaces.Count > ChangedNamespaceList.MaxEntries)
            {
                _changedNamespaces.Clear();
                _changedNamespacesOverflowed = true;
            }

            if ((AsyncEventConfiguration & NamespaceAttributeNoticesEnabled) == 0 || _namespaceEventOutstanding)
            {
                return;
            }

            _namespaceEventOutstanding = true;
            waiting = TakeWaitingRequestLocked(NamespaceAttributeChangedEvent);
        }

        CompleteEvent(waiting, NamespaceAttributeChangedEvent);
    }

    /// <summary>Get Log Page 04h: the NSIDs changed since the last read, which the read clears unless it retains the event (RAE).</summary>
    public byte[] TakeChangedNamespaces(bool retainEvent)
    {
        var page = new byte[ChangedNamespaceList.Length];
        lock (_lock)
        {
            ChangedNamespaceList.Write(page, [.. _changedNamespaces], _changedNamespacesOverflowed);
            if (!retainEvent)
            {
                _changedNamespaces.Clear();
                _changedNamespacesOverflowed = false;
                _namespaceEventOutstanding = false;
            }
        }

        return page;
    }

    /// <summary>A parked Asynchronous Event Request to complete with an event, or null when none is parked (the event then waits for one).</summary>
    private NvmeRequest? TakeWaitingRequestLocked(uint result)
    {
        if (_asyncEventRequests.TryDequeue(out var request))
        {
            return request;
        }

        _pendingEvents.Enqueue(result);
        return null;
    }

    /// <summary>Completes a parked request with the event, outside the lock (the transport sends it).</summary>
    private void CompleteEvent(NvmeRequest? request, uint result)
    {
        if (request is null)
        {
            return;
        }

        request.Result0 = result;
        QueueSession? admin;
        lock (_lock)
        {
            admin = _queues[0];
        }

        admin?.Complete(request, NvmeStatus.Success);
    }

    /// <summary>The host read the ANA log: a later change raises a new event, unless it asked to retain this one (RAE).</summary>
    public void AnaLogRead(bool retainEvent)
    {
        if (retainEvent)
        {
            return;
        }

        lock (_lock)
        {
            _anaEventOutstanding = false;
        }
    }

    /// <summary>Get Log Page 80h: the oldest unread notification (an empty page when none); RAE keeps the event masked.</summary>
    public ReservationNotification TakeReservationNotification(bool retainEvent)
    {
        lock (_lock)
        {
            return _reservationNotices.Take(retainEvent);
        }
    }

    /// <summary>Reservation Notification Mask (feature 82h) of a namespace: bit N hides notification type N.</summary>
    public uint ReservationMask(uint namespaceId)
    {
        lock (_lock)
        {
            return _reservationNotices.Mask(namespaceId);
        }
    }

    public void SetReservationMask(uint namespaceId, uint mask)
    {
        lock (_lock)
        {
            _reservationNotices.SetMask(namespaceId, mask);
        }
    }

    /// <summary>Ends the association: every queue is disconnected and the controller id freed.</summary>
    public void Teardown(string reason)
    {
        QueueSession?[] queues;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            queues = (QueueSession?[])_queues.Clone();
            Array.Clear(_queues);
            _asyncEventRequests.Clear();
            _pendingEvents.Clear();
        }

        _keepAliveTimer?.Dispose();
        Subsystem.RemoveController(this);
        Removed?.Invoke();
        Log.ControllerTeardown(_logger, Subsystem.Nqn, Id, reason);
        foreach (var queue in queues)
        {
            queue?.Transport.Disconnect(reason);
        }
    }

    public void Dispose() => Teardown("target stopping");

    private void DisconnectIoQueues(string reason)
    {
        QueueSession?[] queues;
        lock (_lock)
        {
            queues = _queues[1..];
            // Free the queue ids now: the transports close asynchronously and detach later, and a
            // host that re-enables after the reset must be able to connect the same QIDs at once
            // (Detach only clears a slot still holding its own queue, so this is safe).
            foreach (var queue in queues)
            {
                if (queue is not null)
                {
                    _leaving.Add(queue);
                }
            }

            Array.Clear(_queues, 1, _queues.Length - 1);
        }

        foreach (var queue in queues)
        {
            queue?.Transport.Disconnect(reason);
        }
    }

    private void ArmKeepAliveTimer()
    {
        _keepAliveTimer?.Dispose();
        _keepAliveTimer = null;
        if (KeepAliveTimeoutMs == 0)
        {
            return;
        }

        // Check often enough to notice expiry within a quarter of KATO (at most a second late).
        var period = TimeSpan.FromMilliseconds(Math.Clamp(KeepAliveTimeoutMs / 4, 50, 1000));
        _keepAliveTimer = _time.CreateTimer(static state => ((Controller)state!).CheckKeepAlive(), this, period, period);
    }

    private void CheckKeepAlive()
    {
        uint timeout = KeepAliveTimeoutMs;
        if (timeout == 0 || _disposed)
        {
            return;
        }

        var idle = _time.GetElapsedTime(Volatile.Read(ref _lastKeepAliveTicks));
        if (idle.TotalMilliseconds <= timeout)
        {
            return;
        }

        MarkFatal();
        Log.KeepAliveExpired(_logger, Subsystem.Nqn, Id, HostNqn, (long)idle.TotalMilliseconds, timeout);
        Teardown("keep-alive timeout expired");
    }
}
