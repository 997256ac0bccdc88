using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using NovaStor.Initiator.Identify;
using NovaStor.Initiator.Session;
using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>Where a controller connection stands.</summary>
public enum NvmeControllerState
{
    /// <summary>Connected: commands go out.</summary>
    Live,
    /// <summary>The connection was lost; commands wait while the host reconnects with backoff.</summary>
    Reconnecting,
    /// <summary>The controller-loss timeout passed without a connection: every command fails.</summary>
    Lost,
    /// <summary>Disconnected by the host.</summary>
    Closed,
}

/// <summary>
/// A controller of one NVM subsystem, as an application uses it: an admin queue and N I/O
/// queues (one TCP connection each), kept alive, rescanned on namespace-change events, and
/// reconnected with bounded exponential backoff when a connection is lost. Namespaces are
/// reached through <see cref="Namespaces"/>; their objects survive reconnects.
/// </summary>
public sealed class NvmeController : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, NvmeNamespace> _namespaces = [];
    private readonly Stack<IoRequest> _requests = new();
    private readonly Lock _requestsLock = new();
    private ControllerAssociation? _current;
    private TaskCompletionSource _live = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _lostFailure;
    private Task _reconnect = Task.CompletedTask;
    private readonly CancellationTokenSource _closing = new();

    private NvmeController(EndPoint endPoint, string subsystemNqn, NvmeConnectionOptions options)
    {
        EndPoint = endPoint;
        SubsystemNqn = subsystemNqn;
        Options = options;
        Host = options.Host ?? HostIdentity.Create();
    }

    public EndPoint EndPoint { get; }
    public string SubsystemNqn { get; }
    public NvmeConnectionOptions Options { get; }
    public HostIdentity Host { get; }

    public NvmeControllerState State { get; private set; }

    /// <summary>Identify Controller of the current (or last) association.</summary>
    public ControllerInfo Info { get; private set; } = new();

    /// <summary>CNTLID of the current association (a reconnect gets a new one).</summary>
    public ushort ControllerId => Info.ControllerId;

    /// <summary>I/O queues the controller granted.</summary>
    public int IoQueueCount { get; private set; }

    /// <summary>Bytes one command may move (MDTS, at most 32 MiB); larger requests are split.</summary>
    public int MaxTransferBytes { get; private set; }

    /// <summary>Why the last association was lost (null until one is).</summary>
    public Exception? LastConnectionFailure { get; private set; }

    /// <summary>Successful reconnects since the first connect.</summary>
    public int Reconnects { get; private set; }

    /// <summary>Active namespaces, by NSID.</summary>
    public IReadOnlyList<NvmeNamespace> Namespaces
    {
        get
        {
            lock (_lock)
            {
                return [.. _namespaces.Values.Where(n => n.IsActive).OrderBy(n => n.Id)];
            }
        }
    }

    /// <summary>Raised after a rescan changed the namespace list or a namespace's identify data.</summary>
    public event EventHandler? NamespacesChanged;

    /// <summary>Raised when <see cref="State"/> changes.</summary>
    public event EventHandler<NvmeControllerState>? StateChanged;

    /// <summary>Connects the admin queue and the I/O queues, enables the controller and scans its namespaces.</summary>
    public static async Task<NvmeController> ConnectAsync(EndPoint endPoint, string subsystemNqn, NvmeConnectionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var controller = new NvmeController(endPoint, subsystemNqn, options ?? new NvmeConnectionOptions());
        var association = await ControllerAssociation.ConnectAsync(endPoint, subsystemNqn, controller.Host, controller.Options, cancellationToken).ConfigureAwait(false);
        try
        {
            await controller.InstallAsync(association, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await association.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return controller;
    }

    /// <summary>The namespace <paramref name="namespaceId"/>; throws if it is not active.</summary>
    public NvmeNamespace Namespace(uint namespaceId)
    {
        lock (_lock)
        {
            return _namespaces.TryGetValue(namespaceId, out var ns) && ns.IsActive
                ? ns
                : throw new KeyNotFoundException($"namespace {namespaceId} is not active on {SubsystemNqn}");
        }
    }

    /// <summary>Re-reads the active namespace list and each namespace's Identify data.</summary>
    public Task RescanAsync(CancellationToken cancellationToken = default) => RescanAsync(_current ?? throw Unavailable(), cancellationToken);

    private async Task RescanAsync(ControllerAssociation association, CancellationToken cancellationToken)
    {
        var list = new byte[IdentifyCns.IdentifyDataLength];
        var found = new Dictionary<uint, NamespaceInfo>();
        uint after = 0;
        while (true)
        {
            await association.AdminAsync("Identify Active Namespace List", NvmeCommands.Identify(IdentifyCns.ActiveNamespaceList, after), list, cancellationToken).ConfigureAwait(false);
            int count = 0;
            for (int i = 0; i < list.Length / 4; i++)
            {
                uint id = BinaryPrimitives.ReadUInt32LittleEndian(list.AsSpan(4 * i));
                if (id == 0)
                {
                    break;
                }

                var data = new byte[IdentifyCns.IdentifyDataLength];
                await association.AdminAsync($"Identify Namespace {id}", NvmeCommands.Identify(IdentifyCns.Namespace, id), data, cancellationToken).ConfigureAwait(false);
                if (NamespaceInfo.Parse(id, data) is { } info)
                {
                    found[id] = info;
                }

                after = id;
                count++;
            }

            // A full list (1024 NSIDs) may continue after its last NSID.
            if (count < list.Length / 4)
            {
                break;
            }
        }

        bool changed = false;
        lock (_lock)
        {
            foreach (var (id, info) in found)
            {
                if (_namespaces.TryGetValue(id, out var ns))
                {
                    changed |= ns.Update(info);
                }
                else
                {
                    _namespaces[id] = new NvmeNamespace(this, info);
                    changed = true;
                }
            }

            foreach (var ns in _namespaces.Values)
            {
                if (!found.ContainsKey(ns.Id))
                {
                    changed |= ns.Update(null);
                }
            }
        }

        if (changed)
        {
            NamespacesChanged?.Invoke(this, EventArgs.Empty);
        }
    }

    /// <summary>
    /// Runs an admin command on the current association (Identify, Get Log Page, features):
    /// the completion as it is, error statuses included.
    /// </summary>
    public async Task<NvmeResult> AdminAsync(SubmissionQueueEntry command, Memory<byte> dataIn = default, ReadOnlyMemory<byte> dataOut = default, CancellationToken cancellationToken = default)
    {
        var association = _current ?? throw Unavailable();
        return NvmeResult.From(await association.Admin.Admin.IssueAsync(command, dataOut, dataIn, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// An I/O command on the next queue, through a pooled <see cref="IoRequest"/>. A transport
    /// failure waits for the reconnect and resends; after the controller-loss timeout the result
    /// throws <see cref="ControllerLostException"/>.
    /// </summary>
    internal ValueTask<NvmeResult> ExecuteIoAsync(in SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<NvmeResult>(cancellationToken);
        }

        IoRequest? request;
        lock (_requestsLock)
        {
            _requests.TryPop(out request);
        }

        return (request ?? new IoRequest(this)).Start(command, dataOut, dataIn, cancellationToken);
    }

    internal void Return(IoRequest request)
    {
        lock (_requestsLock)
        {
            _requests.Push(request);
        }
    }

    /// <summary>The association commands go to, or null while reconnecting.</summary>
    internal ControllerAssociation? Current => Volatile.Read(ref _current);

    internal async Task WaitForLiveAsync(CancellationToken cancellationToken)
    {
        Task live;
        lock (_lock)
        {
            if (State == NvmeControllerState.Lost)
            {
                throw LostException();
            }

            if (State == NvmeControllerState.Closed)
            {
                throw new ObjectDisposedException(nameof(NvmeController), $"the controller of {SubsystemNqn} was disconnected");
            }

            live = _live.Task;
        }

        await live.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Scans the new association's namespaces, then makes it the one commands use.</summary>
    private async Task InstallAsync(ControllerAssociation association, CancellationToken cancellationToken)
    {
        association.AsyncEventReceived = OnAsyncEventAsync;
        await RescanAsync(association, cancellationToken).ConfigureAwait(false);
        Info = association.Info;
        IoQueueCount = association.IoQueues.Count;
        MaxTransferBytes = association.MaxTransferBytes;
        TaskCompletionSource live;
        lock (_lock)
        {
            if (State == NvmeControllerState.Closed)
            {
                throw new ObjectDisposedException(nameof(NvmeController));
            }

            _current = association;
            live = _live;
            State = NvmeControllerState.Live;
        }

        _ = association.Lost.ContinueWith(t => OnLost(association, t.Result), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        live.TrySetResult();
        StateChanged?.Invoke(this, NvmeControllerState.Live);
    }

    /// <summary>The association broke: start reconnecting (once per association).</summary>
    internal void OnLost(ControllerAssociation association, Exception reason)
    {
        // The association's own reason (I/O timeout, Keep Alive) wins over what its queues failed
        // with while it closed them: a command can report the closing first.
        if (association.Lost.IsCompletedSuccessfully)
        {
            reason = association.Lost.Result;
        }

        lock (_lock)
        {
            if (_current != association || State != NvmeControllerState.Live)
            {
                return;
            }

            _current = null;
            _live = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            State = NvmeControllerState.Reconnecting;
            LastConnectionFailure = reason;
            _reconnect = ReconnectAsync(association, reason);
        }

        StateChanged?.Invoke(this, NvmeControllerState.Reconnecting);
    }

    /// <summary>Reconnects with exponential backoff until it works or the controller-loss timeout passes.</summary>
    private async Task ReconnectAsync(ControllerAssociation lost, Exception reason)
    {
        await Task.Yield();
        lost.Abort(reason);
        await lost.DisposeAsync().ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var delay = Options.ReconnectDelay;
        Exception last = reason;
        var token = _closing.Token;
        while (!token.IsCancellationRequested)
        {
            var remaining = Options.ControllerLossTimeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }

            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token);
                attempt.CancelAfter(remaining < Options.ConnectTimeout ? remaining : Options.ConnectTimeout);
                var association = await ControllerAssociation.ConnectAsync(EndPoint, SubsystemNqn, Host, Options, attempt.Token).ConfigureAwait(false);
                try
                {
                    await InstallAsync(association, attempt.Token).ConfigureAwait(false);
                    Reconnects++;
                    return;
                }
                catch
                {
                    await association.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }
            catch (Exception ex) when (ex is not ObjectDisposedException)
            {
                last = ex;
            }

            remaining = Options.ControllerLossTimeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }

            try
            {
                await Task.Delay(delay < remaining ? delay : remaining, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, Options.MaxReconnectDelay.Ticks));
        }

        TaskCompletionSource live;
        lock (_lock)
        {
            if (State == NvmeControllerState.Closed)
            {
                return;
            }

            _lostFailure = last;
            State = NvmeControllerState.Lost;
            live = _live;
        }

        live.TrySetException(LostException());
        StateChanged?.Invoke(this, NvmeControllerState.Lost);
    }

    /// <summary>
    /// A reservation notification the target sent this host (registration preempted, reservation
    /// released or preempted; log page 80h), raised on the event loop's thread once per notice.
    /// </summary>
    public event Action<ReservationNotification>? ReservationNotified;

    /// <summary>
    /// Namespace Attribute Changed (notice, information 0): read the Changed Namespace List (log
    /// 04h, which clears the event) and rescan. Reservation log available (type 6h, log 80h): read
    /// every unread notice and raise <see cref="ReservationNotified"/>. Other events: read their
    /// log page to clear them.
    /// </summary>
    private async Task OnAsyncEventAsync(uint dw0)
    {
        uint type = dw0 & 0x7, information = (dw0 >> 8) & 0xFF;
        byte logPage = (byte)(dw0 >> 16);
        try
        {
            if (logPage == LogPageIdentifiers.ReservationNotification)
            {
                await ReadReservationNotificationsAsync().ConfigureAwait(false);
            }
            else if (logPage != 0)
            {
                var log = new byte[ChangedNamespaceList.Length];
                await AdminAsync(NvmeCommands.GetLogPage(logPage, log.Length), log).ConfigureAwait(false);
            }

            if (type == 2 && information == 0 && _current is { } association)
            {
                await RescanAsync(association, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is NvmeTransportException or NvmeCommandException or InvalidOperationException)
        {
            // The association is going away or the log is unreadable; the next connect rescans anyway.
        }
    }

    /// <summary>Each read returns (and consumes) the oldest notice; stop at an empty page or when none is left (bounded).</summary>
    private async Task ReadReservationNotificationsAsync()
    {
        var page = new byte[ReservationNotification.Length];
        for (int read = 0; read < 256; read++)
        {
            var result = await AdminAsync(NvmeCommands.GetLogPage(LogPageIdentifiers.ReservationNotification, page.Length), page).ConfigureAwait(false);
            if (!result.IsSuccess)
            {
                return;
            }

            var notice = ReservationNotification.Read(page);
            if (notice.Type == ReservationNotificationType.Empty)
            {
                return;
            }

            ReservationNotified?.Invoke(notice);
            if (notice.AvailableAfter == 0)
            {
                return;
            }
        }
    }

    /// <summary>Clean disconnect: CC.SHN normal shutdown, wait for CSTS.SHST, close every queue.</summary>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        ControllerAssociation? association;
        TaskCompletionSource live;
        lock (_lock)
        {
            if (State == NvmeControllerState.Closed)
            {
                return;
            }

            State = NvmeControllerState.Closed;
            association = _current;
            _current = null;
            live = _live;
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        live.TrySetException(new ObjectDisposedException(nameof(NvmeController), $"the controller of {SubsystemNqn} was disconnected"));
        if (association is not null)
        {
            try
            {
                await association.ShutdownAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await association.DisposeAsync().ConfigureAwait(false);
            }
        }

        await _reconnect.ConfigureAwait(false);
        StateChanged?.Invoke(this, NvmeControllerState.Closed);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await DisconnectAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NvmeTransportException or NvmeCommandException or TimeoutException or OperationCanceledException)
        {
            // The connection was already broken: nothing to shut down.
        }

        _closing.Dispose();
    }

    private ControllerLostException LostException() => new(
        $"controller of {SubsystemNqn} at {EndPoint} lost: no connection within the controller-loss timeout of {Options.ControllerLossTimeout.TotalSeconds:0.###} s; the command was not completed",
        _lostFailure);

    private Exception Unavailable() => State switch
    {
        NvmeControllerState.Lost => LostException(),
        NvmeControllerState.Closed => new ObjectDisposedException(nameof(NvmeController)),
        _ => new NvmeTransportException($"the controller of {SubsystemNqn} is reconnecting"),
    };
}
