using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NovaStor.Csi.Controller;
using NovaStor.Csi.V1;
using NovaStor.Initiator;
using NovaStor.Protocol;
using NodeRpc = NovaStor.Csi.V1.NodeServiceCapability.Types.RPC.Types.Type;

namespace NovaStor.Csi.Node;

/// <summary>
/// CSI Node: attaches a volume and makes it a filesystem or a block device for pods. In attach
/// mode <c>kernel</c>, stage checks the target with the managed initiator first (it must answer,
/// and its namespace must be the volume's: NGUID), connects every path with the kernel NVMe/TCP
/// host with this node's stable identity and explicit timeouts, and finds the device by NGUID in
/// sysfs; in mode <c>managed</c> this process serves the volume as a ublk device
/// (<see cref="ManagedAttachments"/>). Then it formats only a blank device and mounts it at the
/// staging path; publish bind-mounts that (or the device) at the pod's path.
/// Every call is idempotent; one call at a time per volume (a second is ABORTED).
/// </summary>
internal sealed partial class NodeService : V1.Node.NodeBase
{
    private static readonly TimeSpan TargetCheckTimeout = TimeSpan.FromSeconds(10);

    private const string UblkDiskPrefix = "ublkb";

    private readonly NodePluginOptions _options;
    private readonly NodeHostIdentity _host;
    private readonly NvmeSysfs _sysfs;
    private readonly NvmeFabrics _fabrics;
    private readonly Mounter _mounter;
    private readonly ExternalCommands _commands;
    private readonly ManagedAttachments _managed;
    private readonly ILogger<NodeService> _logger;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _busy = new(StringComparer.Ordinal);

    public NodeService(IOptions<CsiOptions> options, NodeHostIdentity host, ExternalCommands commands, ManagedAttachments managed, ILogger<NodeService> logger)
    {
        _managed = managed;
        _options = options.Value.Node;
        _host = host;
        _commands = commands;
        _logger = logger;
        _sysfs = new NvmeSysfs(_options.SysfsRoot, _options.DevRoot);
        _fabrics = new NvmeFabrics(commands, _sysfs, _options, host);
        _mounter = new Mounter(commands);
    }

    public override Task<NodeGetInfoResponse> NodeGetInfo(NodeGetInfoRequest request, ServerCallContext context) =>
        Task.FromResult(new NodeGetInfoResponse
        {
            NodeId = _host.HostNqn,
            MaxVolumesPerNode = _options.MaxVolumes,
            AccessibleTopology = new Topology { Segments = { [CsiOptions.TopologyKey] = _options.Name } },
        });

    public override Task<NodeGetCapabilitiesResponse> NodeGetCapabilities(NodeGetCapabilitiesRequest request, ServerCallContext context)
    {
        var response = new NodeGetCapabilitiesResponse();
        foreach (var type in new[] { NodeRpc.StageUnstageVolume, NodeRpc.GetVolumeStats, NodeRpc.ExpandVolume, NodeRpc.SingleNodeMultiWriter })
        {
            response.Capabilities.Add(new NodeServiceCapability { Rpc = new NodeServiceCapability.Types.RPC { Type = type } });
        }

        return Task.FromResult(response);
    }

    public override Task<NodeStageVolumeResponse> NodeStageVolume(NodeStageVolumeRequest request, ServerCallContext context) =>
        OneAtATimeAsync(request.VolumeId, async () =>
        {
            Require(request.StagingTargetPath, "staging_target_path");
            if (VolumeCapabilities.Problem(request.VolumeCapability) is { } problem)
            {
                throw Refused(StatusCode.InvalidArgument, $"Volume {request.VolumeId}: {problem}.");
            }

            var volume = AttachedVolume.From(request.VolumeId, request.VolumeContext);
            var token = context.CancellationToken;
            string staging = request.StagingTargetPath;
            bool block = request.VolumeCapability.AccessTypeCase == VolumeCapability.AccessTypeOneofCase.Block;
            bool managed = AttachModeOf(request.VolumeId, request.VolumeContext) == VolumeContext.AttachManaged;

            // Already staged: the same device at the staging path is OK; anything else is another volume.
            string? device = managed ? _managed.NotedDeviceOf(volume.VolumeId) : _sysfs.FindDevice(volume.Nqn, volume.Nguid, volume.Uuid);
            if (!block && MountTable.At(MountTable.Read(), staging) is { } mounted)
            {
                if (device is null || mounted.Source != device)
                {
                    throw Refused(StatusCode.AlreadyExists, $"{staging} already has {mounted.Source} mounted, not volume {request.VolumeId}.");
                }

                if (managed)
                {
                    // Mounted, and this plugin serves it (or takes it back now from an earlier one).
                    await _managed.AttachAsync(volume.VolumeId, volume.Nqn, volume.Nguid, volume.Paths, token).ConfigureAwait(false);
                }

                return new NodeStageVolumeResponse();
            }

            if (managed)
            {
                device = await _managed.AttachAsync(volume.VolumeId, volume.Nqn, volume.Nguid, volume.Paths, token).ConfigureAwait(false);
            }
            else if (device is null)
            {
                await CheckTargetAsync(volume, token).ConfigureAwait(false);
                if (_sysfs.ControllersOf(volume.Nqn).Count > 0)
                {
                    // Controllers of this subsystem without its device: left from before (a reboot, a lost target). Start clean.
                    Log.StaleControllers(_logger, volume.Nqn);
                    await _fabrics.DisconnectAsync(volume.Nqn, token).ConfigureAwait(false);
                }

                device = await ConnectAsync(volume, token).ConfigureAwait(false);
            }

            if (block)
            {
                return new NodeStageVolumeResponse(); // the device is published as it is
            }

            string fsType = request.VolumeCapability.Mount.FsType is { Length: > 0 } asked ? asked : VolumeCapabilities.FileSystems[0];
            var content = await DeviceContent.ProbeAsync(_commands, device, token).ConfigureAwait(false);
            if (content.IsBlank)
            {
                await _mounter.FormatAsync(device, fsType, token).ConfigureAwait(false);
                Log.Formatted(_logger, device, fsType, request.VolumeId);
            }
            else if (content.FileSystem != fsType)
            {
                throw Refused(StatusCode.FailedPrecondition,
                    $"Volume {request.VolumeId} ({device}) holds {(content.FileSystem is null ? $"a {content.PartitionTable ?? "non-filesystem"} signature" : content.FileSystem)}, not {fsType}; it is not formatted over.");
            }

            Directory.CreateDirectory(staging);
            await _mounter.MountAsync(device, staging, fsType, [.. request.VolumeCapability.Mount.MountFlags], token).ConfigureAwait(false);
            Log.Staged(_logger, request.VolumeId, device, staging);
            return new NodeStageVolumeResponse();
        });

    public override Task<NodeUnstageVolumeResponse> NodeUnstageVolume(NodeUnstageVolumeRequest request, ServerCallContext context) =>
        OneAtATimeAsync(request.VolumeId, async () =>
        {
            Require(request.StagingTargetPath, "staging_target_path");
            if (MountTable.At(MountTable.Read(), request.StagingTargetPath) is not null)
            {
                await _mounter.UnmountAsync(request.StagingTargetPath, context.CancellationToken).ConfigureAwait(false);
            }

            // Unstage has no volume context: whichever way the volume was attached is undone.
            await _managed.DetachAsync(request.VolumeId, context.CancellationToken).ConfigureAwait(false);

            // Each volume has its own subsystem: disconnecting it touches no other volume.
            if (VolumeNaming.TryParseVolumeId(request.VolumeId, out _, out string volumeName))
            {
                await _fabrics.DisconnectAsync(VolumeNaming.SubsystemNqn(volumeName), context.CancellationToken).ConfigureAwait(false);
            }

            Log.Unstaged(_logger, request.VolumeId);
            return new NodeUnstageVolumeResponse();
        });

    public override Task<NodePublishVolumeResponse> NodePublishVolume(NodePublishVolumeRequest request, ServerCallContext context) =>
        OneAtATimeAsync(request.VolumeId, async () =>
        {
            Require(request.TargetPath, "target_path");
            if (VolumeCapabilities.Problem(request.VolumeCapability) is { } problem)
            {
                throw Refused(StatusCode.InvalidArgument, $"Volume {request.VolumeId}: {problem}.");
            }

            if (request.StagingTargetPath.Length == 0)
            {
                throw Refused(StatusCode.FailedPrecondition, "staging_target_path is required: this plugin stages volumes (STAGE_UNSTAGE_VOLUME).");
            }

            var token = context.CancellationToken;
            bool block = request.VolumeCapability.AccessTypeCase == VolumeCapability.AccessTypeOneofCase.Block;
            string source;
            if (block)
            {
                var volume = AttachedVolume.From(request.VolumeId, request.VolumeContext);
                source = _managed.DeviceOf(volume.VolumeId) ?? _sysfs.FindDevice(volume.Nqn, volume.Nguid, volume.Uuid)
                    ?? throw Refused(StatusCode.FailedPrecondition, $"Volume {request.VolumeId} is not staged on this node (no device for {volume.Nqn}).");
            }
            else
            {
                source = MountTable.At(MountTable.Read(), request.StagingTargetPath)?.MountPoint
                    ?? throw Refused(StatusCode.FailedPrecondition, $"Volume {request.VolumeId} is not staged at {request.StagingTargetPath}.");
            }

            if (MountTable.At(MountTable.Read(), request.TargetPath) is { } existing)
            {
                bool same = block ? "/" + Path.GetFileName(source) == existing.Root : existing.Source == MountTable.At(MountTable.Read(), source)?.Source;
                bool readOnly = existing.Options.Contains("ro");
                return same && readOnly == request.Readonly
                    ? new NodePublishVolumeResponse()
                    : throw Refused(StatusCode.AlreadyExists, $"{request.TargetPath} is already published with something else or other flags.");
            }

            if (block)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(request.TargetPath))!);
                if (!File.Exists(request.TargetPath))
                {
                    await File.WriteAllBytesAsync(request.TargetPath, [], token).ConfigureAwait(false);
                }
            }
            else
            {
                Directory.CreateDirectory(request.TargetPath);
            }

            string[] flags = request.VolumeCapability.AccessTypeCase == VolumeCapability.AccessTypeOneofCase.Mount ? [.. request.VolumeCapability.Mount.MountFlags] : [];
            await _mounter.BindAsync(source, request.TargetPath, request.Readonly, flags, token).ConfigureAwait(false);
            Log.Published(_logger, request.VolumeId, request.TargetPath, request.Readonly);
            return new NodePublishVolumeResponse();
        });

    public override Task<NodeUnpublishVolumeResponse> NodeUnpublishVolume(NodeUnpublishVolumeRequest request, ServerCallContext context) =>
        OneAtATimeAsync(request.VolumeId, async () =>
        {
            Require(request.TargetPath, "target_path");
            if (MountTable.At(MountTable.Read(), request.TargetPath) is not null)
            {
                await _mounter.UnmountAsync(request.TargetPath, context.CancellationToken).ConfigureAwait(false);
            }

            if (Directory.Exists(request.TargetPath))
            {
                Directory.Delete(request.TargetPath);
            }
            else if (File.Exists(request.TargetPath))
            {
                File.Delete(request.TargetPath);
            }

            return new NodeUnpublishVolumeResponse();
        });

    public override Task<NodeGetVolumeStatsResponse> NodeGetVolumeStats(NodeGetVolumeStatsRequest request, ServerCallContext context)
    {
        RequireVolumeId(request.VolumeId);
        Require(request.VolumePath, "volume_path");
        var mount = MountTable.At(MountTable.Read(), request.VolumePath)
            ?? throw Refused(StatusCode.NotFound, $"Nothing is published or staged at {request.VolumePath}.");
        var response = new NodeGetVolumeStatsResponse();
        if (BlockDeviceOf(mount) is { } disk)
        {
            response.Usage.Add(new VolumeUsage { Unit = VolumeUsage.Types.Unit.Bytes, Total = DiskBytes(disk) });
            return Task.FromResult(response);
        }

        var usage = FileSystemStats.Of(request.VolumePath);
        response.Usage.Add(new VolumeUsage { Unit = VolumeUsage.Types.Unit.Bytes, Total = usage.TotalBytes, Available = usage.AvailableBytes, Used = usage.UsedBytes });
        response.Usage.Add(new VolumeUsage { Unit = VolumeUsage.Types.Unit.Inodes, Total = usage.TotalInodes, Available = usage.FreeInodes, Used = usage.UsedInodes });
        return Task.FromResult(response);
    }

    public override Task<NodeExpandVolumeResponse> NodeExpandVolume(NodeExpandVolumeRequest request, ServerCallContext context) =>
        OneAtATimeAsync(request.VolumeId, async () =>
        {
            Require(request.VolumePath, "volume_path");
            var mount = MountTable.At(MountTable.Read(), request.VolumePath)
                ?? throw Refused(StatusCode.NotFound, $"Volume {request.VolumeId} is not at {request.VolumePath}.");
            string disk = BlockDeviceOf(mount) ?? Path.GetFileName(mount.Source);
            long wanted = request.CapacityRange?.RequiredBytes ?? 0;
            if (disk.StartsWith(UblkDiskPrefix, StringComparison.Ordinal) && DiskBytes(disk) < wanted)
            {
                // ublk_drv before UBLK_CMD_UPDATE_SIZE (Linux 6.16) fixes a device's size at start; this plugin does not resize one.
                throw Refused(StatusCode.FailedPrecondition,
                    $"Volume {request.VolumeId} is attached in managed mode as {disk} ({DiskBytes(disk)} bytes), and a ublk device keeps the size it started with: the new size ({wanted} bytes) is seen once the volume is unstaged and staged again (its pods restarted), and node expansion then grows the file system.");
            }

            // The target told the host (Namespace Attribute Changed) and the kernel rereads the size;
            // wait for it rather than trust that it already happened.
            var until = DateTime.UtcNow.AddSeconds(_options.DeviceWaitSeconds);
            while (DiskBytes(disk) < wanted && DateTime.UtcNow < until)
            {
                await Task.Delay(100, context.CancellationToken).ConfigureAwait(false);
            }

            long size = DiskBytes(disk);
            if (size < wanted)
            {
                throw Refused(StatusCode.Internal, $"{disk} is {size} bytes, not the {wanted} asked for, {_options.DeviceWaitSeconds} s after the volume grew.");
            }

            if (BlockDeviceOf(mount) is null)
            {
                await _mounter.GrowAsync(mount.Source, mount.MountPoint, mount.FileSystem, context.CancellationToken).ConfigureAwait(false);
            }

            return new NodeExpandVolumeResponse { CapacityBytes = size };
        });

    /// <summary>The managed initiator asks the target before the kernel connects: it must answer, and namespace 1 must be the volume's.</summary>
    private async Task CheckTargetAsync(AttachedVolume volume, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        foreach (string path in volume.Paths)
        {
            string nguid;
            try
            {
                var (address, port) = NvmeFabrics.Split(path);
                var endPoint = new IPEndPoint(IPAddress.Parse(address), int.Parse(port, System.Globalization.CultureInfo.InvariantCulture));
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TargetCheckTimeout);
                await using var controller = await HostController.ConnectAsync(endPoint, volume.Nqn, new HostIdentity(_host.HostNqn, _host.HostId), cancellationToken: timeout.Token).ConfigureAwait(false);
                var identify = await controller.IdentifyAsync(IdentifyCns.Namespace, VolumeContext.NamespaceId, timeout.Token).ConfigureAwait(false);
                nguid = Convert.ToHexStringLower(identify.AsSpan(104, 16));
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // Unreachable, refused (not admitted), timed out: try the next path.
                failures.Add($"{path}: {e.Message}");
                continue;
            }

            if (volume.Nguid is { Length: > 0 } expected && !string.Equals(nguid, expected.Replace("-", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase))
            {
                throw Refused(StatusCode.FailedPrecondition,
                    $"Namespace 1 of {volume.Nqn} at {path} has NGUID {nguid}, not volume {volume.VolumeId}'s {expected}; refusing to attach a device that is not the volume.");
            }

            return;
        }

        throw Refused(StatusCode.Unavailable, $"No path of volume {volume.VolumeId} answered ({string.Join("; ", failures)}).");
    }

    /// <summary>
    /// Connects every path (at least one must work) and waits for the namespace's device. The paths
    /// connect side by side: a path that hangs costs one command timeout, not one per path.
    /// </summary>
    private async Task<string> ConnectAsync(AttachedVolume volume, CancellationToken cancellationToken)
    {
        var attempts = volume.Paths.Select(async path =>
        {
            try
            {
                await _fabrics.ConnectAsync(volume.Nqn, path, cancellationToken).ConfigureAwait(false);
                return null;
            }
            catch (Exception e) when (e is IOException or CommandTimeoutException or FormatException)
            {
                Log.PathFailed(_logger, path, volume.Nqn, e.Message);
                return e.Message;
            }
        });
        string[] failures = [.. (await Task.WhenAll(attempts).ConfigureAwait(false)).OfType<string>()];
        if (failures.Length == volume.Paths.Count)
        {
            throw Refused(StatusCode.Unavailable, $"No path of volume {volume.VolumeId} could be connected: {string.Join("; ", failures)}");
        }

        var until = DateTime.UtcNow.AddSeconds(_options.DeviceWaitSeconds);
        while (true)
        {
            if (_sysfs.FindDevice(volume.Nqn, volume.Nguid, volume.Uuid) is { } device)
            {
                return device;
            }

            if (DateTime.UtcNow >= until)
            {
                throw Refused(StatusCode.Internal, $"Connected to {volume.Nqn}, but no block device with NGUID {volume.Nguid} appeared within {_options.DeviceWaitSeconds} s.");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The disk (nvme0n1, ublkb0) a block publish bind-mounts, or null for a filesystem mount.</summary>
    private static string? BlockDeviceOf(MountEntry mount) =>
        mount.FileSystem == "devtmpfs" && (mount.Root.StartsWith("/nvme", StringComparison.Ordinal) || mount.Root.StartsWith("/" + UblkDiskPrefix, StringComparison.Ordinal)) ? mount.Root[1..] : null;

    /// <summary>The attach mode the volume's StorageClass chose, else this node's default.</summary>
    private string AttachModeOf(string volumeId, IDictionary<string, string> context)
    {
        string mode = context.TryGetValue(VolumeContext.Attach, out string? chosen) ? chosen : _options.AttachMode;
        return VolumeContext.IsAttachMode(mode)
            ? mode
            : throw Refused(StatusCode.InvalidArgument, $"Volume {volumeId}'s attach mode '{mode}' is neither '{VolumeContext.AttachKernel}' nor '{VolumeContext.AttachManaged}'.");
    }

    private long DiskBytes(string disk)
    {
        string sectors = Path.Combine(_options.SysfsRoot, "block", disk, "size");
        return File.Exists(sectors) && long.TryParse(File.ReadAllText(sectors).Trim(), out long count) ? count * 512 : 0;
    }

    /// <summary>Runs one call for a volume; a call for a volume already being worked on is ABORTED (the CSI rule for operations pending).</summary>
    private async Task<T> OneAtATimeAsync<T>(string volumeId, Func<Task<T>> call)
    {
        RequireVolumeId(volumeId);
        var gate = _busy.GetOrAdd(volumeId, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(0).ConfigureAwait(false))
        {
            throw Refused(StatusCode.Aborted, $"An operation on volume {volumeId} is in progress; try again.");
        }

        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or CommandTimeoutException or System.ComponentModel.Win32Exception)
        {
            throw Refused(StatusCode.Internal, $"Volume {volumeId}: {e.Message}");
        }
        finally
        {
            gate.Release();
        }
    }

    private static void RequireVolumeId(string volumeId) => Require(volumeId, "volume_id");

    private static void Require(string value, string field)
    {
        if (value.Length == 0)
        {
            throw Refused(StatusCode.InvalidArgument, $"{field} is required.");
        }
    }

    private static RpcException Refused(StatusCode code, string message) => new(new Status(code, message));

    /// <summary>What the volume context says about a volume (the controller put it there).</summary>
    private sealed record AttachedVolume(string VolumeId, string Nqn, string? Nguid, string? Uuid, IReadOnlyList<string> Paths)
    {
        public static AttachedVolume From(string volumeId, IDictionary<string, string> context)
        {
            if (!VolumeNaming.TryParseVolumeId(volumeId, out _, out string volumeName))
            {
                throw Refused(StatusCode.NotFound, $"'{volumeId}' is not a volume of this driver.");
            }

            string nqn = VolumeNaming.SubsystemNqn(volumeName);
            if (context.TryGetValue(VolumeContext.Nqn, out string? given) && given != nqn)
            {
                throw Refused(StatusCode.InvalidArgument, $"The volume context names subsystem {given}, but volume {volumeId}'s is {nqn}.");
            }

            string[] paths = context.TryGetValue(VolumeContext.Paths, out string? list) ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
            if (paths.Length == 0)
            {
                throw Refused(StatusCode.InvalidArgument, $"The volume context of {volumeId} has no {VolumeContext.Paths}.");
            }

            string? nguid = context.TryGetValue(VolumeContext.Nguid, out string? n) ? n : null;
            string? uuid = context.TryGetValue(VolumeContext.Uuid, out string? u) ? u : null;
            if (string.IsNullOrEmpty(nguid) && string.IsNullOrEmpty(uuid))
            {
                throw Refused(StatusCode.InvalidArgument, $"The volume context of {volumeId} has neither {VolumeContext.Nguid} nor {VolumeContext.Uuid}: its device could not be told from another.");
            }

            return new AttachedVolume(volumeId, nqn, nguid, uuid, paths);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(30, LogLevel.Warning, "Controllers of {Nqn} without its device: disconnecting them before connecting again")]
        public static partial void StaleControllers(ILogger logger, string nqn);

        [LoggerMessage(31, LogLevel.Warning, "Path {Path} of {Nqn} could not be connected: {Reason}")]
        public static partial void PathFailed(ILogger logger, string path, string nqn, string reason);

        [LoggerMessage(32, LogLevel.Information, "Made {FileSystem} on {Device} (volume {VolumeId}): it held nothing")]
        public static partial void Formatted(ILogger logger, string device, string fileSystem, string volumeId);

        [LoggerMessage(33, LogLevel.Information, "Staged {VolumeId}: {Device} at {Path}")]
        public static partial void Staged(ILogger logger, string volumeId, string device, string path);

        [LoggerMessage(34, LogLevel.Information, "Unstaged {VolumeId}")]
        public static partial void Unstaged(ILogger logger, string volumeId);

        [LoggerMessage(35, LogLevel.Information, "Published {VolumeId} at {Path} (read-only: {ReadOnly})")]
        public static partial void Published(ILogger logger, string volumeId, string path, bool readOnly);
    }
}
