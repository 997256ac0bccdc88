using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Csi.Controller;
using NovaStor.Initiator;
using NovaStor.Ublk;

namespace NovaStor.Csi.Node;

/// <summary>
/// The volumes this plugin serves itself (attach mode <c>managed</c>): each is a controller of the
/// managed initiator (every path, multipath and reconnect as the initiator does them) served as a
/// ublk block device by threads of this process. Each is noted in <see cref="ManagedAttachmentStore"/>:
/// when the plugin stops (an upgrade, a crash) the kernel keeps the device with its I/O waiting
/// (UBLK_F_USER_RECOVERY), and the next plugin takes it back (<see cref="RecoverAsync"/>). Stopping
/// the plugin therefore never stops a device: only unstage does.
/// One operation at a time per volume; operations on different volumes run side by side.
/// </summary>
internal sealed partial class ManagedAttachments
{
    private readonly NodePluginOptions _options;
    private readonly NodeHostIdentity _host;
    private readonly ManagedAttachmentStore _store;
    private readonly ILogger<ManagedAttachments> _logger;
    private readonly ConcurrentDictionary<string, Attachment> _attached = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    public ManagedAttachments(Microsoft.Extensions.Options.IOptions<CsiOptions> options, NodeHostIdentity host, ILogger<ManagedAttachments> logger)
    {
        _options = options.Value.Node;
        _host = host;
        _logger = logger;
        _store = new ManagedAttachmentStore(_options.ManagedStateDirectory);
    }

    /// <summary>Whether the node has the ublk driver (its control device).</summary>
    public bool IsAvailable => File.Exists(Path.Combine(_options.DevRoot, "ublk-control"));

    /// <summary>The volumes noted as served here (this plugin's or an earlier one's).</summary>
    public IReadOnlyList<ManagedAttachmentRecord> Recorded => _store.ReadAll(message => Log.BadRecord(_logger, message));

    /// <summary>The block device (/dev/ublkbN) this process serves for <paramref name="volumeId"/>, or null.</summary>
    public string? DeviceOf(string volumeId) =>
        _attached.TryGetValue(volumeId, out var attachment) && !attachment.Device.Ended.IsCompleted ? attachment.Device.BlockDevice : null;

    /// <summary>The device served for the volume, or else the one its record names (an earlier plugin's, not taken back yet).</summary>
    public string? NotedDeviceOf(string volumeId) =>
        DeviceOf(volumeId) ?? (_store.Read(volumeId) is { } record ? UblkDevices.BlockDevice(record.DeviceId) : null);

    /// <summary>
    /// Serves the volume as a ublk device and returns it (/dev/ublkbN): the one already served; or
    /// the noted device of an earlier plugin, taken back; or a new one. The namespace must have the
    /// volume's NGUID, or nothing is attached.
    /// </summary>
    /// <exception cref="RpcException">FAILED_PRECONDITION (no ublk driver, not the volume's namespace, a device served by someone else), UNAVAILABLE (no path answered).</exception>
    public async Task<string> AttachAsync(string volumeId, string nqn, string? nguid, IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var gate = _gates.GetOrAdd(volumeId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (DeviceOf(volumeId) is { } served)
            {
                return served;
            }

            // Served here once, but the device was stopped behind this plugin's back (novastor detach --force, or the driver).
            if (_attached.TryRemove(volumeId, out var ended))
            {
                await ended.Device.DisposeAsync().ConfigureAwait(false);
                await DisconnectAsync(ended.Controller).ConfigureAwait(false);
            }

            if (!IsAvailable)
            {
                throw Refused(StatusCode.FailedPrecondition,
                    $"Volume {volumeId} attaches in managed mode, but this node has no {Path.Combine(_options.DevRoot, "ublk-control")}: load the ublk driver (modprobe ublk_drv; Linux 6.0+).");
            }

            var record = _store.Read(volumeId);
            var device = await ServeAsync(volumeId, nqn, nguid, paths, recoverOnly: false, record?.DeviceId, cancellationToken).ConfigureAwait(false);
            return device!;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Takes back a device an earlier plugin served (from its record). A record whose device is
    /// gone (the node rebooted) is dropped: the next stage makes a new device.
    /// </summary>
    /// <returns>True when the record is settled (recovered, already served, or dropped); false to try again later.</returns>
    public async Task<bool> RecoverAsync(ManagedAttachmentRecord record, CancellationToken cancellationToken)
    {
        var gate = _gates.GetOrAdd(record.VolumeId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (DeviceOf(record.VolumeId) is not null)
            {
                return true;
            }

            try
            {
                return await ServeAsync(record.VolumeId, record.Nqn, record.Nguid, record.Paths, recoverOnly: true, record.DeviceId, cancellationToken).ConfigureAwait(false) is not null;
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
            {
                Log.RecoveryFailed(_logger, record.VolumeId, UblkDevices.BlockDevice(record.DeviceId), e.Status.Detail);
                return false;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is IOException or InvalidOperationException)
            {
                Log.RecoveryFailed(_logger, record.VolumeId, UblkDevices.BlockDevice(record.DeviceId), e.Message);
                return false;
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Gives up on a device no plugin could take back in time (the target stayed away past the
    /// loss timeout): the device is removed, so its waiting I/O fails with EIO instead of hanging,
    /// as the kernel host fails it after its controller loss timeout.
    /// </summary>
    public async Task AbandonAsync(ManagedAttachmentRecord record)
    {
        var gate = _gates.GetOrAdd(record.VolumeId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (DeviceOf(record.VolumeId) is null)
            {
                string result;
                try
                {
                    // Never a device some other live server serves (two plugins overlapping in an update).
                    int removed = await UblkDevices.RemoveOrphanAsync(record.DeviceId).ConfigureAwait(false);
                    result = removed == 0 ? "removed" : removed == -Errno.EBUSY ? "left alone: a live server serves it" : Errno.Describe(-removed);
                }
                catch (UblkException e)
                {
                    result = e.Message;
                }

                Log.Abandoned(_logger, record.VolumeId, UblkDevices.BlockDevice(record.DeviceId), result);
                _store.Delete(record.VolumeId);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Ends the volume's device: flushes, stops and deletes it, disconnects its controller, and
    /// forgets the record. A noted device nobody serves (a recovery that never happened) is removed.
    /// Nothing to do is fine (unstage is idempotent).
    /// </summary>
    public async Task DetachAsync(string volumeId, CancellationToken cancellationToken)
    {
        var gate = _gates.GetOrAdd(volumeId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_attached.TryRemove(volumeId, out var attachment))
            {
                await attachment.Device.DisposeAsync().ConfigureAwait(false);
                await DisconnectAsync(attachment.Controller).ConfigureAwait(false);
                Log.Detached(_logger, volumeId, attachment.Device.BlockDevice);
            }
            else if (_store.Read(volumeId) is { } record && IsAvailable)
            {
                int removed = await UblkDevices.RemoveOrphanAsync(record.DeviceId).ConfigureAwait(false);
                if (removed == -Errno.EBUSY)
                {
                    throw Refused(StatusCode.FailedPrecondition,
                        $"Volume {volumeId}'s {UblkDevices.BlockDevice(record.DeviceId)} is served by another process, not this plugin: it is left alone (stop that process, or novastor detach it).");
                }

                if (removed == 0)
                {
                    Log.Detached(_logger, volumeId, UblkDevices.BlockDevice(record.DeviceId));
                }
            }

            _store.Delete(volumeId);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Connects the volume and serves its device: <paramref name="deviceId"/> taken back when it is
    /// waiting for a server, else (unless <paramref name="recoverOnly"/>) a new device.
    /// </summary>
    /// <returns>The block device; null when <paramref name="recoverOnly"/> and the noted device is gone (its record is dropped).</returns>
    private async Task<string?> ServeAsync(string volumeId, string nqn, string? nguid, IReadOnlyList<string> paths, bool recoverOnly, int? deviceId, CancellationToken cancellationToken)
    {
        var controller = await ConnectAsync(volumeId, nqn, paths, cancellationToken).ConfigureAwait(false);
        try
        {
            var ns = controller.Namespace(VolumeContext.NamespaceId);
            string found = Convert.ToHexStringLower(ns.Info.Nguid.Span);
            if (nguid is { Length: > 0 } expected && !string.Equals(found, expected.Replace("-", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase))
            {
                throw Refused(StatusCode.FailedPrecondition,
                    $"Namespace 1 of {nqn} has NGUID {found}, not volume {volumeId}'s {expected}; refusing to attach a device that is not the volume.");
            }

            UblkDevice? device = null;
            if (deviceId is int id)
            {
                device = await OnOwnThreadAsync(() => TryRecover(controller, id)).ConfigureAwait(false);
                if (device is null && recoverOnly)
                {
                    Log.RecordDropped(_logger, volumeId, UblkDevices.BlockDevice(id));
                    _store.Delete(volumeId);
                    await DisconnectAsync(controller).ConfigureAwait(false);
                    return null;
                }
            }

            bool recovered = device is not null;
            device ??= await OnOwnThreadAsync(() => UblkDevice.Start(controller, VolumeContext.NamespaceId,
                new UblkDeviceOptions { Queues = _options.ManagedQueues, QueueDepth = _options.ManagedQueueDepth }, _logger)).ConfigureAwait(false);
            try
            {
                // A record of another volume naming this device number is from before a reboot: its device is not this one.
                foreach (var stale in _store.ReadAll(_ => { }).Where(r => r.DeviceId == device.DeviceId && r.VolumeId != volumeId))
                {
                    _store.Delete(stale.VolumeId);
                }

                // Noted before it is used: a plugin that dies from here on leaves a record to recover from.
                _store.Write(new ManagedAttachmentRecord(volumeId, nqn, nguid, [.. paths], device.DeviceId));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Without its record the device could not be taken back after a restart: not served at all.
                await device.DisposeAsync().ConfigureAwait(false);
                throw Refused(StatusCode.Internal, $"Volume {volumeId}: its record in {_options.ManagedStateDirectory} could not be written ({e.Message}); the device was removed.");
            }

            _attached[volumeId] = new Attachment(controller, device);
            Log.Serving(_logger, volumeId, device.BlockDevice, recovered ? "taken back from an earlier plugin" : "new");
            return device.BlockDevice;
        }
        catch (Exception e) when (e is UblkException or KeyNotFoundException)
        {
            // The driver refused, or the subsystem has no namespace 1.
            await DisconnectAsync(controller).ConfigureAwait(false);
            throw Refused(StatusCode.FailedPrecondition, $"Volume {volumeId}: {e.Message}");
        }
        catch
        {
            await DisconnectAsync(controller).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The noted device taken back, or null when it no longer exists (a reboot; deleted by hand).</summary>
    /// <exception cref="UblkException">It exists but is not waiting for a server (someone serves it), or is not this namespace's.</exception>
    private UblkDevice? TryRecover(NvmeController controller, int deviceId)
    {
        try
        {
            return UblkDevice.Recover(controller, VolumeContext.NamespaceId, deviceId, _logger);
        }
        catch (UblkException e) when (e.ErrorNumber == Errno.ENODEV)
        {
            return null;
        }
    }

    /// <summary>
    /// Every path (the initiator's multipath); if they will not all connect, the first path that
    /// does alone, so one path down does not stop a stage (the kernel mode connects what it can too).
    /// </summary>
    private async Task<NvmeController> ConnectAsync(string volumeId, string nqn, IReadOnlyList<string> paths, CancellationToken cancellationToken)
    {
        var endPoints = paths.Select(EndPointOf).ToArray();
        var failures = new List<string>();
        IEnumerable<EndPoint[]> attempts = endPoints.Length > 1 ? [endPoints, .. endPoints.Select(e => new[] { e })] : [endPoints];
        foreach (var attempt in attempts)
        {
            try
            {
                return await NvmeController.ConnectAsync(attempt[0], nqn, ConnectionOptions(attempt[1..]), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is IOException or TimeoutException or System.Net.Sockets.SocketException
                or NvmeTransportException or NvmeCommandException or ControllerLostException or NvmePathMismatchException or OperationCanceledException)
            {
                failures.Add($"{string.Join(" + ", attempt.Select(p => p.ToString()))}: {e.Message}");
                Log.PathFailed(_logger, string.Join(",", attempt.Select(p => p.ToString())), nqn, e.Message);
            }
        }

        throw Refused(StatusCode.Unavailable, $"No path of volume {volumeId} could be connected by the managed initiator: {string.Join("; ", failures)}");
    }

    private NvmeConnectionOptions ConnectionOptions(EndPoint[] additionalPaths) => new()
    {
        Host = new HostIdentity(_host.HostNqn, _host.HostId),
        AdditionalPaths = additionalPaths,
        IoQueues = _options.ManagedQueues,
        KeepAliveTimeout = TimeSpan.FromSeconds(_options.KeepAliveTimeoutSeconds),
        ControllerLossTimeout = TimeSpan.FromSeconds(_options.CtrlLossTimeoutSeconds),
        MaxReconnectDelay = TimeSpan.FromSeconds(Math.Max(1, _options.ReconnectDelaySeconds)),
        PollMicroseconds = _options.ManagedPollMicroseconds,
        // The ublk queues' continuations never block: they queue a tag and wake the queue's thread.
        InlineCompletions = true,
    };

    private static EndPoint EndPointOf(string path)
    {
        var (address, port) = NvmeFabrics.Split(path);
        return new IPEndPoint(IPAddress.Parse(address), int.Parse(port, CultureInfo.InvariantCulture));
    }

    private async Task DisconnectAsync(NvmeController controller)
    {
        try
        {
            await controller.DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or NvmeTransportException or NvmeCommandException or ControllerLostException or TimeoutException or OperationCanceledException)
        {
            Log.DisconnectFailed(_logger, controller.SubsystemNqn, e.Message);
        }

        await controller.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The ublk control commands block (START_DEV waits for the queues; recovery waits for the driver): never on a pool thread.</summary>
    private static Task<T> OnOwnThreadAsync<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static RpcException Refused(StatusCode code, string message) => new(new Status(code, message));

    private sealed record Attachment(NvmeController Controller, UblkDevice Device);

    private static partial class Log
    {
        [LoggerMessage(50, LogLevel.Information, "Serving volume {VolumeId} as {Device} ({How})")]
        public static partial void Serving(ILogger logger, string volumeId, string device, string how);

        [LoggerMessage(51, LogLevel.Information, "Detached volume {VolumeId} ({Device})")]
        public static partial void Detached(ILogger logger, string volumeId, string device);

        [LoggerMessage(52, LogLevel.Warning, "Taking back {Device} of volume {VolumeId} failed, will try again: {Reason}")]
        public static partial void RecoveryFailed(ILogger logger, string volumeId, string device, string reason);

        [LoggerMessage(53, LogLevel.Information, "The noted device {Device} of volume {VolumeId} is gone (a reboot?); the record is dropped and the next stage makes a new one")]
        public static partial void RecordDropped(ILogger logger, string volumeId, string device);

        [LoggerMessage(54, LogLevel.Error, "Volume {VolumeId}: {Device} could not be taken back within the loss timeout; removed ({Result}), its waiting I/O fails")]
        public static partial void Abandoned(ILogger logger, string volumeId, string device, string result);

        [LoggerMessage(55, LogLevel.Warning, "Managed path {Path} of {Nqn} could not be connected: {Reason}")]
        public static partial void PathFailed(ILogger logger, string path, string nqn, string reason);

        [LoggerMessage(56, LogLevel.Warning, "Disconnecting {Nqn} failed: {Reason}")]
        public static partial void DisconnectFailed(ILogger logger, string nqn, string reason);

        [LoggerMessage(57, LogLevel.Warning, "A managed-attachment record was skipped: {Problem}")]
        public static partial void BadRecord(ILogger logger, string problem);
    }
}
