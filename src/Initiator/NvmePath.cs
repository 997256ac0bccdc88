using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using NovaStor.Initiator.Identify;
using NovaStor.Initiator.Session;
using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>
/// One path of an <see cref="NvmeController"/>: a controller reached at one address (its own
/// association: admin queue, I/O queues, keep-alive, event request), reconnected with bounded
/// exponential backoff when its connection breaks, with its own view of the namespaces and of
/// their ANA states. A single-path controller has exactly one.
/// </summary>
public sealed partial class NvmePath
{
    private readonly Lock _lock = new();
    private readonly NvmeController _owner;
    private ControllerAssociation? _current;
    private Exception? _lostFailure;
    private Task _reconnect = Task.CompletedTask;
    private IReadOnlyDictionary<uint, NamespaceInfo> _namespaces = new Dictionary<uint, NamespaceInfo>();

    internal NvmePath(NvmeController owner, int index, EndPoint endPoint)
    {
        _owner = owner;
        Index = index;
        EndPoint = endPoint;
    }

    /// <summary>Position in <see cref="NvmeController.Paths"/>: 0 is the end point given to ConnectAsync.</summary>
    public int Index { get; }

    public EndPoint EndPoint { get; }

    public NvmeControllerState State { get; private set; }

    /// <summary>Identify Controller of the current (or last) association on this path.</summary>
    public ControllerInfo Info { get; private set; } = new();

    /// <summary>CNTLID of the current association (a reconnect gets a new one).</summary>
    public ushort ControllerId => Info.ControllerId;

    public int IoQueueCount { get; private set; }

    /// <summary>Bytes one command may move on this path (MDTS, at most 32 MiB).</summary>
    public int MaxTransferBytes { get; private set; }

    /// <summary>Why the last association of this path was lost (null until one is).</summary>
    public Exception? LastConnectionFailure { get; private set; }

    /// <summary>Successful reconnects of this path since its first connect.</summary>
    public int Reconnects { get; private set; }

    /// <summary>Raised when <see cref="State"/> changes.</summary>
    public event EventHandler<NvmeControllerState>? StateChanged;

    /// <summary>The association commands go to, or null while this path reconnects.</summary>
    internal ControllerAssociation? Current => Volatile.Read(ref _current);

    /// <summary>The namespaces this path's controller reported at its last scan, by NSID.</summary>
    internal IReadOnlyDictionary<uint, NamespaceInfo> NamespaceInfos => Volatile.Read(ref _namespaces);

    /// <summary>
    /// Runs an admin command on this path's current association (Identify, Get Log Page, features):
    /// the completion as it is, error statuses included.
    /// </summary>
    public async Task<NvmeResult> AdminAsync(SubmissionQueueEntry command, Memory<byte> dataIn = default, ReadOnlyMemory<byte> dataOut = default, CancellationToken cancellationToken = default)
    {
        var association = Current ?? throw Unavailable();
        return NvmeResult.From(await association.Admin.Admin.IssueAsync(command, dataOut, dataIn, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>The first connect of this path; throws what went wrong (nothing retries it).</summary>
    internal async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var association = await ControllerAssociation.ConnectAsync(EndPoint, _owner.SubsystemNqn, _owner.Host, _owner.Options, cancellationToken).ConfigureAwait(false);
        try
        {
            await InstallAsync(association, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await association.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Scans the new association's namespaces and reads its ANA states, has the controller check
    /// them against the other paths (a different namespace behind the same NSID refuses the
    /// path), then makes it the association commands use.
    /// </summary>
    private async Task InstallAsync(ControllerAssociation association, CancellationToken cancellationToken)
    {
        association.AsyncEventReceived = dw0 => OnAsyncEventAsync(association, dw0);
        if (association.Info.SubsystemNqn.Length > 0 && association.Info.SubsystemNqn != _owner.SubsystemNqn)
        {
            throw new NvmePathMismatchException($"path {EndPoint} leads to subsystem {association.Info.SubsystemNqn}, not {_owner.SubsystemNqn}; path refused");
        }

        var found = await ScanAsync(association, cancellationToken).ConfigureAwait(false);
        var ana = await ReadAnaAsync(association, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            if (State == NvmeControllerState.Closed)
            {
                throw new ObjectDisposedException(nameof(NvmeController));
            }

            // Checked and published together under the controller's lock, so two paths installing
            // at once cannot both pass against an older picture of each other.
            _owner.AcceptPath(this, found, () =>
            {
                Info = association.Info;
                IoQueueCount = association.IoQueues.Count;
                MaxTransferBytes = association.MaxTransferBytes;
                Volatile.Write(ref _namespaces, found);
                Volatile.Write(ref _ana, ana);
            });
            Volatile.Write(ref _current, association);
            State = NvmeControllerState.Live;
        }

        _ = association.Lost.ContinueWith(t => OnLost(association, t.Result), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        StateChanged?.Invoke(this, NvmeControllerState.Live);
        _owner.OnPathChanged(namespacesChanged: true);
    }

    /// <summary>The active namespace list and each namespace's Identify data, as this path's controller reports them.</summary>
    private static async Task<Dictionary<uint, NamespaceInfo>> ScanAsync(ControllerAssociation association, CancellationToken cancellationToken)
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

        return found;
    }

    /// <summary>Re-reads this path's namespaces (after a namespace-change notice, or on request).</summary>
    internal async Task RescanAsync(CancellationToken cancellationToken)
    {
        var association = Current ?? throw Unavailable();
        var found = await ScanAsync(association, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            if (Current != association)
            {
                return;
            }

            // A namespace whose identity no longer matches the other paths' is left out of this
            // path (AcceptPath skips it) rather than failing a running path.
            _owner.AcceptPath(this, found, () => Volatile.Write(ref _namespaces, found), refuse: false);
        }

        _owner.OnPathChanged(namespacesChanged: true);
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

            Volatile.Write(ref _current, null);
            State = NvmeControllerState.Reconnecting;
            LastConnectionFailure = reason;
            _reconnect = ReconnectAsync(association, reason);
        }

        StateChanged?.Invoke(this, NvmeControllerState.Reconnecting);
        _owner.OnPathChanged(namespacesChanged: false, reason);
    }

    /// <summary>Reconnects with exponential backoff until it works or the controller-loss timeout passes.</summary>
    private async Task ReconnectAsync(ControllerAssociation lost, Exception reason)
    {
        await Task.Yield();
        lost.Abort(reason);
        await lost.DisposeAsync().ConfigureAwait(false);
        var options = _owner.Options;
        var clock = Stopwatch.StartNew();
        var delay = options.ReconnectDelay;
        Exception last = reason;
        var token = _owner.Closing;
        while (!token.IsCancellationRequested)
        {
            var remaining = options.ControllerLossTimeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }

            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token);
                attempt.CancelAfter(remaining < options.ConnectTimeout ? remaining : options.ConnectTimeout);
                var association = await ControllerAssociation.ConnectAsync(EndPoint, _owner.SubsystemNqn, _owner.Host, options, attempt.Token).ConfigureAwait(false);
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

            remaining = options.ControllerLossTimeout - clock.Elapsed;
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

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.MaxReconnectDelay.Ticks));
        }

        lock (_lock)
        {
            if (State == NvmeControllerState.Closed)
            {
                return;
            }

            _lostFailure = last;
            State = NvmeControllerState.Lost;
        }

        StateChanged?.Invoke(this, NvmeControllerState.Lost);
        _owner.OnPathChanged(namespacesChanged: false);
    }

    /// <summary>Clean disconnect of this path: CC.SHN normal shutdown, wait for CSTS.SHST, close every queue.</summary>
    internal async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        ControllerAssociation? association;
        lock (_lock)
        {
            if (State == NvmeControllerState.Closed)
            {
                return;
            }

            State = NvmeControllerState.Closed;
            association = _current;
            Volatile.Write(ref _current, null);
        }

        try
        {
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
        }
        finally
        {
            await _reconnect.ConfigureAwait(false);
            StateChanged?.Invoke(this, NvmeControllerState.Closed);
        }
    }

    internal ControllerLostException LostException() => new(
        $"controller of {_owner.SubsystemNqn} at {EndPoint} lost: no connection within the controller-loss timeout of {_owner.Options.ControllerLossTimeout.TotalSeconds:0.###} s; the command was not completed",
        _lostFailure);

    internal Exception Unavailable() => State switch
    {
        NvmeControllerState.Lost => LostException(),
        NvmeControllerState.Closed => new ObjectDisposedException(nameof(NvmeController)),
        _ => new NvmeTransportException($"the controller of {_owner.SubsystemNqn} at {EndPoint} is reconnecting"),
    };
}
