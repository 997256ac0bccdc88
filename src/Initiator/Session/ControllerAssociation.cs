using System.Net;
using NovaStor.Initiator.Identify;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Session;

/// <summary>
/// One association with a controller: the admin queue, the I/O queues, the keep-alive timer
/// and the posted Asynchronous Event Request. It lives until a connection breaks or the host
/// disconnects; <see cref="NvmeController"/> replaces it with a new one when it is lost.
/// </summary>
internal sealed partial class ControllerAssociation : IAsyncDisposable
{
    // CAP: MQES 15:0 (0-based), TO 31:24 (500 ms units), CSS bit 43 (I/O command sets), MPSMIN 51:48.
    private const int CapTimeoutShift = 24, CapMinimumPageShift = 48;
    private const ulong CapIoCommandSets = 1UL << 43;

    // CC: EN bit 0, CSS 6:4, MPS 10:7, SHN 15:14, IOSQES 19:16 (2^6 = 64), IOCQES 23:20 (2^4 = 16).
    private const uint CcEnable = 1, CcQueueEntrySizes = (6u << 16) | (4u << 20), CcShutdownMask = 3u << 14, CcShutdownNormal = 1u << 14;
    private const int CcCommandSetShift = 4, CcPageSizeShift = 7;

    // CSTS: RDY bit 0, CFS bit 1, SHST 3:2 (10b = shutdown complete).
    private const uint CstsShutdownMask = 3u << 2, CstsShutdownComplete = 2u << 2;

    private readonly NvmeConnectionOptions _options;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource<Exception> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HostQueue[] _ioQueues = [];
    private Task _keepAlive = Task.CompletedTask;
    private Task _asyncEvents = Task.CompletedTask;
    private Task _watchdog = Task.CompletedTask;
    private uint _nextQueue;
    private int _closing;

    private ControllerAssociation(HostController admin, NvmeConnectionOptions options)
    {
        Admin = admin;
        _options = options;
    }

    public HostController Admin { get; }

    public ControllerInfo Info { get; private set; } = new();

    public ulong Capabilities { get; private set; }

    /// <summary>Bytes one command may move (MDTS with CAP.MPSMIN, at most 32 MiB); 1 MiB when the controller sets no limit.</summary>
    public int MaxTransferBytes { get; private set; }

    public IReadOnlyList<HostQueue> IoQueues => _ioQueues;

    /// <summary>Completes with the reason once any queue of the association has failed.</summary>
    public Task<Exception> Lost => _lost.Task;

    /// <summary>Raised (on the receive side) for every Asynchronous Event completion.</summary>
    public Func<uint, Task>? AsyncEventReceived { get; set; }

    /// <summary>Connect, enable, identify, negotiate queues, connect the I/O queues, start keep-alive.</summary>
    public static async Task<ControllerAssociation> ConnectAsync(EndPoint endPoint, string subsystemNqn, HostIdentity host, NvmeConnectionOptions options, CancellationToken cancellationToken)
    {
        // The admin queue always completes on the thread pool: background loops and callers block there.
        var queueOptions = new HostQueueOptions { HeaderDigest = options.HeaderDigest, DataDigest = options.DataDigest, ConnectTimeout = options.ConnectTimeout, Transport = options.Transport, SocketSendBufferBytes = options.SocketSendBufferBytes, Authentication = options.Authentication, DisableSqFlowControl = options.DisableSqFlowControl };
        uint kato = (uint)Math.Clamp(options.KeepAliveTimeout.TotalMilliseconds, 0, uint.MaxValue);
        var admin = await HostController.ConnectAsync(endPoint, subsystemNqn, host, kato, queueOptions, enable: false, cancellationToken).ConfigureAwait(false);
        var association = new ControllerAssociation(admin, options);
        try
        {
            await association.InitializeAsync(queueOptions, cancellationToken).ConfigureAwait(false);
            return association;
        }
        catch
        {
            await association.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task InitializeAsync(HostQueueOptions queueOptions, CancellationToken cancellationToken)
    {
        var cap = await AdminAsync("Property Get CAP", NvmeCommands.PropertyGet(ControllerProperties.Capabilities, true), cancellationToken: cancellationToken).ConfigureAwait(false);
        Capabilities = cap.Dw0 | ((ulong)cap.Dw1 << 32);
        await EnableAsync(cancellationToken).ConfigureAwait(false);

        // KATO runs from Connect, but Keep Alive is refused until the controller is ready:
        // start at once after enable and keep alive while the rest of the setup takes its time.
        if (_options.KeepAliveTimeout > TimeSpan.Zero)
        {
            _keepAlive = KeepAliveLoopAsync(_options.KeepAliveTimeout);
        }

        var identify = new byte[IdentifyCns.IdentifyDataLength];
        await AdminAsync("Identify Controller", NvmeCommands.Identify(IdentifyCns.Controller), identify, cancellationToken).ConfigureAwait(false);
        Info = ControllerInfo.Parse(identify);
        if (Info.ControllerId != Admin.ControllerId)
        {
            throw new NvmeTransportException($"Identify Controller: CNTLID {Info.ControllerId} differs from the {Admin.ControllerId} Connect returned");
        }

        int minimumPageShift = (int)((Capabilities >> CapMinimumPageShift) & 0xF);
        // At most 32 MiB a command whatever MDTS allows: a read's C2HData must fit the queue's
        // receive buffer, which grows to the largest PDU but refuses one past 64 MiB.
        MaxTransferBytes = (int)Math.Min(Info.MaxTransferBytes(minimumPageShift) ?? 1 << 20, 1 << 25);

        int queues = Math.Clamp(_options.IoQueues, 1, ushort.MaxValue - 1);
        var granted = await Admin.Admin.IssueAsync(NvmeCommands.SetFeatures(FeatureId.NumberOfQueues, (uint)(queues - 1) | ((uint)(queues - 1) << 16)), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (granted.Status.IsSuccess)
        {
            queues = Math.Min(queues, (int)Math.Min(granted.Dw0 & 0xFFFF, granted.Dw0 >> 16) + 1);
        }
        else
        {
            throw new NvmeCommandException("Set Features Number of Queues (the controller grants no I/O queues)", granted.Status);
        }

        // Namespace attribute notices (bit 8) and ANA change notices (bit 11), as far as OAES offers
        // them; a refusal only means no rescan (or ANA re-read) on change, path errors still re-read.
        uint notices = (Info.NamespaceAttributeNotices ? 1u << 8 : 0) | (Info.AnaChangeNotices ? 1u << 11 : 0);
        if (notices != 0)
        {
            await Admin.Admin.IssueAsync(NvmeCommands.SetFeatures(FeatureId.AsyncEventConfiguration, notices), cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        int depth = Math.Clamp(_options.QueueDepth, 2, (int)(Capabilities & 0xFFFF) + 1);
        var ioOptions = queueOptions with { InCapsuleDataLimit = Math.Max(0, Math.Min(_options.InCapsuleDataLimit, Info.InCapsuleDataSize)), InlineCompletions = _options.InlineCompletions, PollMicroseconds = _options.PollMicroseconds };
        var ioQueues = new HostQueue[queues];
        for (int i = 0; i < queues; i++)
        {
            ioQueues[i] = await Admin.ConnectIoQueueAsync((ushort)(i + 1), depth, ioOptions, cancellationToken).ConfigureAwait(false);
        }

        _ioQueues = ioQueues;
        Watch(Admin.Admin);
        foreach (var queue in ioQueues)
        {
            Watch(queue);
        }

        if (notices != 0)
        {
            _asyncEvents = AsyncEventLoopAsync();
        }

        if (_options.IoTimeout > TimeSpan.Zero)
        {
            _watchdog = IoWatchdogLoopAsync(_options.IoTimeout);
        }
    }

    /// <summary>CC with the command set CAP offers, EN = 1, then CSTS.RDY within CAP.TO.</summary>
    private async Task EnableAsync(CancellationToken cancellationToken)
    {
        uint commandSet = (Capabilities & CapIoCommandSets) != 0 ? 6u : 0u;
        uint pageShift = (uint)((Capabilities >> CapMinimumPageShift) & 0xF);
        uint configuration = CcEnable | CcQueueEntrySizes | (commandSet << CcCommandSetShift) | (pageShift << CcPageSizeShift);
        await AdminAsync("Property Set CC", NvmeCommands.PropertySet(ControllerProperties.Configuration, configuration), cancellationToken: cancellationToken).ConfigureAwait(false);
        var limit = TimeSpan.FromMilliseconds(Math.Max(500, 500 * (int)((Capabilities >> CapTimeoutShift) & 0xFF)));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            uint status = (await AdminAsync("Property Get CSTS", NvmeCommands.PropertyGet(ControllerProperties.Status, false), cancellationToken: cancellationToken).ConfigureAwait(false)).Dw0;
            if ((status & (uint)ControllerStatus.ControllerFatalStatus) != 0)
            {
                throw new NvmeTransportException("controller reports fatal status (CSTS.CFS) after enable");
            }

            if ((status & (uint)ControllerStatus.Ready) != 0)
            {
                return;
            }

            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"controller not ready (CSTS.RDY) within CAP.TO = {limit.TotalMilliseconds} ms");
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The next I/O queue, round robin.</summary>
    public HostQueue NextQueue()
    {
        var queues = _ioQueues;
        return queues[(int)(Interlocked.Increment(ref _nextQueue) % (uint)queues.Length)];
    }

    /// <summary>An admin command that must succeed, answered within the admin timeout.</summary>
    public async Task<CompletionQueueEntry> AdminAsync(string operation, SubmissionQueueEntry command, Memory<byte> dataIn = default, CancellationToken cancellationToken = default, ReadOnlyMemory<byte> dataOut = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.AdminTimeout);
        CompletionQueueEntry completion;
        try
        {
            completion = await Admin.Admin.IssueAsync(command, dataOut, dataIn, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var failure = new NvmeTransportException($"{operation}: no answer within {_options.AdminTimeout.TotalSeconds} s");
            Abort(failure);
            throw failure;
        }

        HostController.Check(operation, completion);
        return completion;
    }

    private void Watch(HostQueue queue) => _ = WatchAsync(queue);

    private async Task WatchAsync(HostQueue queue)
    {
        var failure = await queue.WaitForCloseAsync().ConfigureAwait(false);
        Abort(failure ?? new NvmeTransportException("a queue closed"));
    }

    /// <summary>The association is broken: report it once, close every queue so nothing waits on it.</summary>
    public void Abort(Exception reason)
    {
        if (_lost.TrySetResult(reason))
        {
            _stopping.Cancel();
            _ = CloseQueuesAsync();
        }
    }

    /// <summary>Normal shutdown (CC.SHN = 01b, wait for CSTS.SHST = 10b), then every queue closed.</summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _closing, 1);
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            uint cc = (await AdminAsync("Property Get CC", NvmeCommands.PropertyGet(ControllerProperties.Configuration, false), cancellationToken: cancellationToken).ConfigureAwait(false)).Dw0;
            try
            {
                await AdminAsync("Property Set CC.SHN", NvmeCommands.PropertySet(ControllerProperties.Configuration, (cc & ~CcShutdownMask) | CcShutdownNormal), cancellationToken: cancellationToken).ConfigureAwait(false);
                await WaitForShutdownCompleteAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NvmeTransportException)
            {
                // Once the shutdown is asked for, a controller may hang up at any point (SPDK's
                // closes every connection once it is done; a reset can even lose the answer to the
                // Property Set itself): every command before it had completed, so this is the
                // normal end of the association, not a failure.
            }
        }
        finally
        {
            _lost.TrySetResult(new NvmeTransportException("the host disconnected"));
            await CloseQueuesAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Polls CSTS until SHST says complete, for as long as RTD3E allows (5 s when it says nothing).</summary>
    private async Task WaitForShutdownCompleteAsync(CancellationToken cancellationToken)
    {
        var limit = TimeSpan.FromMilliseconds(Math.Clamp(Info.ShutdownLatencyMicroseconds / 1000.0, 5000, 60000));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            uint status = (await AdminAsync("Property Get CSTS", NvmeCommands.PropertyGet(ControllerProperties.Status, false), cancellationToken: cancellationToken).ConfigureAwait(false)).Dw0;
            if ((status & CstsShutdownMask) == CstsShutdownComplete)
            {
                return;
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task CloseQueuesAsync()
    {
        foreach (var queue in _ioQueues)
        {
            await queue.DisposeAsync().ConfigureAwait(false);
        }

        await Admin.Admin.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _closing, 1);
        _lost.TrySetResult(new NvmeTransportException("the host closed the association"));
        await _stopping.CancelAsync().ConfigureAwait(false);
        // The admin HostController owns the I/O queues it connected and closes them too.
        await Admin.DisposeAsync().ConfigureAwait(false);
        await Task.WhenAll(_keepAlive, _asyncEvents, _watchdog).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
