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
/// A controller of one NVM subsystem, as an application uses it: one or more paths (see
/// <see cref="NvmeConnectionOptions.AdditionalPaths"/>), each an association of its own (an admin
/// queue and N I/O queues, one TCP connection each), kept alive, rescanned on namespace-change
/// events, and reconnected with bounded exponential backoff when a connection is lost.
/// Namespaces are reached through <see cref="Namespaces"/>; their objects survive reconnects, and
/// their I/O goes to the paths ANA makes best (<see cref="NvmeNamespace"/>).
/// </summary>
public sealed class NvmeController : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, NvmeNamespace> _namespaces = [];
    private readonly Stack<IoRequest> _requests = new();
    private readonly Lock _requestsLock = new();
    private readonly NvmePath[] _paths;
    private readonly CancellationTokenSource _closing = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Exception? _lastFailure;

    private NvmeController(IReadOnlyList<EndPoint> endPoints, string subsystemNqn, NvmeConnectionOptions options)
    {
        SubsystemNqn = subsystemNqn;
        Options = options;
        Host = options.Host ?? HostIdentity.Create();
        _paths = new NvmePath[endPoints.Count];
        for (int i = 0; i < _paths.Length; i++)
        {
            _paths[i] = new NvmePath(this, i, endPoints[i]);
        }
    }

    /// <summary>The first path's end point (the one given to <see cref="ConnectAsync"/>).</summary>
    public EndPoint EndPoint => _paths[0].EndPoint;
    public string SubsystemNqn { get; }
    public NvmeConnectionOptions Options { get; }
    public HostIdentity Host { get; }

    /// <summary>Every path, the first one first; each is a controller of the subsystem with the same host identity.</summary>
    public IReadOnlyList<NvmePath> Paths => _paths;

    /// <summary>Live while any path is; Reconnecting while none is but one is trying; Lost when every path is.</summary>
    public NvmeControllerState State { get; private set; }

    /// <summary>Identify Controller of the first path's current (or last) association.</summary>
    public ControllerInfo Info => _paths[0].Info;

    /// <summary>CNTLID of the first path's current association (a reconnect gets a new one).</summary>
    public ushort ControllerId => Info.ControllerId;

    /// <summary>I/O queues the first path's controller granted.</summary>
    public int IoQueueCount => _paths[0].IoQueueCount;

    /// <summary>Bytes one command may move on every path (the smallest MDTS, at most 32 MiB); larger requests are split.</summary>
    public int MaxTransferBytes { get; private set; }

    /// <summary>Why the last association (of any path) was lost (null until one is).</summary>
    public Exception? LastConnectionFailure => Volatile.Read(ref _lastFailure);

    /// <summary>Successful reconnects of every path since the first connect.</summary>
    public int Reconnects
    {
        get
        {
            int sum = 0;
            foreach (var path in _paths)
            {
                sum += path.Reconnects;
            }

            return sum;
        }
    }

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

    /// <summary>
    /// A reservation notification the target sent this host (registration preempted, reservation
    /// released or preempted; log page 80h), raised on the event loop's thread once per notice
    /// (per path: each path's controller is notified on its own).
    /// </summary>
    public event Action<ReservationNotification>? ReservationNotified;

    /// <summary>
    /// Connects <paramref name="endPoint"/> and every <see cref="NvmeConnectionOptions.AdditionalPaths"/>
    /// end point, one after the other (admin queue, I/O queues, enable, namespace scan, ANA log).
    /// Every path must connect, and lead to the same subsystem and namespaces (NGUID per NSID), or
    /// nothing stays connected and the first failure is thrown (<see cref="NvmePathMismatchException"/>
    /// for a different identity).
    /// </summary>
    public static async Task<NvmeController> ConnectAsync(EndPoint endPoint, string subsystemNqn, NvmeConnectionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new NvmeConnectionOptions();
        var controller = new NvmeController([endPoint, .. options.AdditionalPaths], subsystemNqn, options);
        try
        {
            foreach (var path in controller._paths)
            {
                await path.ConnectAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await controller.DisposeAsync().ConfigureAwait(false);
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

    /// <summary>Re-reads the active namespace list and each namespace's Identify data on every connected path.</summary>
    public async Task RescanAsync(CancellationToken cancellationToken = default)
    {
        bool any = false;
        foreach (var path in _paths)
        {
            if (path.Current is not null)
            {
                any = true;
                await path.RescanAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        if (!any)
        {
            throw Unavailable();
        }
    }

    /// <summary>
    /// Runs an admin command on the first connected path (Identify, Get Log Page, features): the
    /// completion as it is, error statuses included. <see cref="NvmePath.AdminAsync"/> picks the path.
    /// </summary>
    public Task<NvmeResult> AdminAsync(SubmissionQueueEntry command, Memory<byte> dataIn = default, ReadOnlyMemory<byte> dataOut = default, CancellationToken cancellationToken = default)
    {
        foreach (var path in _paths)
        {
            if (path.Current is not null)
            {
                return path.AdminAsync(command, dataIn, dataOut, cancellationToken);
            }
        }

        throw Unavailable();
    }

    /// <summary>
    /// An I/O command of <paramref name="ns"/> on a path ANA allows, through a pooled
    /// <see cref="IoRequest"/>. A path status or a transport failure moves it to another usable
    /// path, or waits for one to reconnect; with none left the result is the status, or
    /// <see cref="ControllerLostException"/> after the controller-loss timeout.
    /// </summary>
    internal ValueTask<NvmeResult> ExecuteIoAsync(NvmeNamespace ns, in SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, CancellationToken cancellationToken)
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

        return (request ?? new IoRequest(this)).Start(ns, command, dataOut, dataIn, cancellationToken);
    }

    internal void Return(IoRequest request)
    {
        lock (_requestsLock)
        {
            _requests.Push(request);
        }
    }

    internal CancellationToken Closing => _closing.Token;

    /// <summary>Completes at the next change of any path (state, namespaces, ANA): what a command waiting for a path waits on.</summary>
    internal Task NextChange => Volatile.Read(ref _changed).Task;

    internal void RaiseReservationNotified(ReservationNotification notice) => ReservationNotified?.Invoke(notice);

    /// <summary>
    /// Called by a path, under its own lock, before it serves a new association (or takes a new
    /// scan): each namespace it reports must have the identity the other paths report for the same
    /// NSID. A mismatch refuses the path (<paramref name="refuse"/>) or leaves that namespace out of
    /// it; then <paramref name="commit"/> publishes the path's new view while nothing else can check.
    /// </summary>
    internal void AcceptPath(NvmePath path, Dictionary<uint, NamespaceInfo> found, Action commit, bool refuse = true)
    {
        lock (_lock)
        {
            foreach (var (id, info) in found)
            {
                foreach (var other in _paths)
                {
                    if (other == path || other.State == NvmeControllerState.Closed || !other.NamespaceInfos.TryGetValue(id, out var theirs) || SameNamespace(info, theirs))
                    {
                        continue;
                    }

                    if (refuse)
                    {
                        throw new NvmePathMismatchException(
                            $"path {path.EndPoint} refused: its namespace {id} (NGUID {Convert.ToHexString(info.Nguid.Span)}, {info.BlockSize}-byte blocks) is not namespace {id} of path {other.EndPoint} (NGUID {Convert.ToHexString(theirs.Nguid.Span)}, {theirs.BlockSize}-byte blocks) of {SubsystemNqn}");
                    }

                    found.Remove(id);
                    break;
                }
            }

            commit();
        }
    }

    /// <summary>Same NGUID (when either reports one) and the same block size: the same namespace, reachable both ways.</summary>
    private static bool SameNamespace(NamespaceInfo a, NamespaceInfo b)
    {
        bool anyNguid = a.Nguid.Span.IndexOfAnyExcept((byte)0) >= 0 || b.Nguid.Span.IndexOfAnyExcept((byte)0) >= 0;
        return a.BlockSize == b.BlockSize && (!anyNguid || a.Nguid.Span.SequenceEqual(b.Nguid.Span));
    }

    /// <summary>
    /// A path connected, lost its connection, rescanned or learnt new ANA states: merge the
    /// namespaces, rebuild every namespace's path choice, settle <see cref="State"/> and wake the
    /// commands waiting for a path.
    /// </summary>
    internal void OnPathChanged(bool namespacesChanged, Exception? lostReason = null)
    {
        bool listChanged = false;
        NvmeControllerState? newState = null;
        TaskCompletionSource changed;
        lock (_lock)
        {
            if (lostReason is not null)
            {
                _lastFailure = lostReason;
            }

            if (namespacesChanged)
            {
                listChanged = MergeNamespacesLocked();
            }

            foreach (var ns in _namespaces.Values)
            {
                ns.Paths = BuildPaths(ns);
            }

            if (State != NvmeControllerState.Closed && Aggregate() is var state && state != State)
            {
                State = state;
                newState = state;
            }

            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
        if (newState is { } raised)
        {
            StateChanged?.Invoke(this, raised);
        }

        if (listChanged)
        {
            NamespacesChanged?.Invoke(this, EventArgs.Empty);
        }
    }

    /// <summary>Each NSID takes its Identify data from the first path that reports it; a namespace no path reports is inactive.</summary>
    private bool MergeNamespacesLocked()
    {
        var found = new Dictionary<uint, NamespaceInfo>();
        int maxTransfer = int.MaxValue;
        foreach (var path in _paths)
        {
            foreach (var (id, info) in path.NamespaceInfos)
            {
                found.TryAdd(id, info);
            }

            if (path.MaxTransferBytes > 0)
            {
                maxTransfer = Math.Min(maxTransfer, path.MaxTransferBytes);
            }
        }

        MaxTransferBytes = maxTransfer == int.MaxValue ? 0 : maxTransfer;
        bool changed = false;
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

        return changed;
    }

    /// <summary>
    /// The paths where the namespace's ANA group is optimized, those where it is non-optimized, and
    /// every path that reports it. A namespace no path reports (any more) may go to any path: the
    /// controller answers for it.
    /// </summary>
    private NamespacePaths BuildPaths(NvmeNamespace ns)
    {
        if (!ns.IsActive)
        {
            return new NamespacePaths(_paths, [], _paths, StatusCodes.AnaInaccessible);
        }

        var optimized = new List<NvmePath>();
        var nonOptimized = new List<NvmePath>();
        var members = new List<NvmePath>();
        var mostHopeful = AnaState.PersistentLoss;
        foreach (var path in _paths)
        {
            if (!path.NamespaceInfos.TryGetValue(ns.Id, out var info))
            {
                continue;
            }

            members.Add(path);
            var state = path.AnaStateOf(info.AnaGroupId);
            switch (state)
            {
                case AnaState.Optimized:
                    optimized.Add(path);
                    break;
                case AnaState.NonOptimized:
                    nonOptimized.Add(path);
                    break;
                case AnaState.Change:
                    mostHopeful = AnaState.Change;
                    break;
                case AnaState.Inaccessible when mostHopeful != AnaState.Change:
                    mostHopeful = AnaState.Inaccessible;
                    break;
            }
        }

        return new NamespacePaths([.. optimized], [.. nonOptimized], [.. members], AnaGroupStates.ToPathStatus(mostHopeful));
    }

    private NvmeControllerState Aggregate()
    {
        bool reconnecting = false;
        foreach (var path in _paths)
        {
            if (path.State == NvmeControllerState.Live)
            {
                return NvmeControllerState.Live;
            }

            reconnecting |= path.State == NvmeControllerState.Reconnecting;
        }

        return reconnecting ? NvmeControllerState.Reconnecting : NvmeControllerState.Lost;
    }

    /// <summary>Clean disconnect of every path: CC.SHN normal shutdown, wait for CSTS.SHST, close every queue.</summary>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            if (State == NvmeControllerState.Closed)
            {
                return;
            }

            State = NvmeControllerState.Closed;
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        await _closing.CancelAsync().ConfigureAwait(false);
        // Commands waiting for a path see Closed and end with ObjectDisposedException.
        changed.TrySetResult();
        Exception? failure = null;
        foreach (var path in _paths)
        {
            try
            {
                await path.DisconnectAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure ??= ex;
            }
        }

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

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

    /// <summary>No usable path came back within the controller-loss timeout: one path's own exception, or one naming them all.</summary>
    internal Exception LostException()
    {
        if (State == NvmeControllerState.Closed)
        {
            return new ObjectDisposedException(nameof(NvmeController), $"the controller of {SubsystemNqn} was disconnected");
        }

        if (_paths.Length == 1)
        {
            return _paths[0].LostException();
        }

        return new ControllerLostException(
            $"every usable path of {SubsystemNqn} ({string.Join(", ", _paths.Select(p => p.EndPoint))}) lost: no connection within the controller-loss timeout of {Options.ControllerLossTimeout.TotalSeconds:0.###} s; the command was not completed",
            LastConnectionFailure);
    }

    private Exception Unavailable() => _paths.Length == 1
        ? _paths[0].Unavailable()
        : State switch
        {
            NvmeControllerState.Lost => LostException(),
            NvmeControllerState.Closed => new ObjectDisposedException(nameof(NvmeController)),
            _ => new NvmeTransportException($"no path of {SubsystemNqn} is connected now (reconnecting)"),
        };
}
