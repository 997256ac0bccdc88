using System.Net;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Cp = NovaStor.ControlPlane.V1;

namespace NovaStor.Csi.Controller;

/// <summary>
/// What the controller does on the storage nodes: find a CSI volume wherever it is, make one (the
/// catalog volume, its own subsystem with no host allowed, namespace 1), admit and fence hosts, grow
/// and delete. Every step is idempotent, so a call the sidecar repeats after a timeout finishes
/// what the first one started.
/// </summary>
internal sealed partial class VolumeProvisioner(StorageNodes nodes, ILogger<VolumeProvisioner> logger)
{
    /// <summary>A CSI volume found on a node: the catalog volume and its subsystem (null when a create died before making it).</summary>
    public sealed record Found(StorageNode Node, Cp.Volume Volume, Cp.Subsystem? Subsystem)
    {
        public string VolumeId => VolumeNaming.VolumeId(Node.Name, Volume.Name);

        public string Nqn => VolumeNaming.SubsystemNqn(Volume.Name);
    }

    private TimeSpan Timeout => nodes.CallTimeout;

    /// <summary>The node named by a volume ID, or null when the ID is not one of ours or the node is not (any more) configured.</summary>
    public StorageNode? NodeOf(string volumeId, out string volumeName)
    {
        if (!VolumeNaming.TryParseVolumeId(volumeId, out string node, out volumeName))
        {
            return null;
        }

        return nodes.Find(node);
    }

    /// <summary>The volume <paramref name="volumeName"/> on <paramref name="node"/>, or null.</summary>
    public async Task<Found?> FindAsync(StorageNode node, string volumeName, CancellationToken cancellationToken)
    {
        var volume = await StorageCalls.FindAsync(node, Timeout, o => node.Volumes.GetVolumeAsync(new Cp.GetVolumeRequest { Name = volumeName }, o), cancellationToken).ConfigureAwait(false);
        if (volume is null)
        {
            return null;
        }

        var subsystem = await StorageCalls.FindAsync(node, Timeout,
            o => node.Subsystems.GetSubsystemAsync(new Cp.GetSubsystemRequest { Nqn = VolumeNaming.SubsystemNqn(volumeName) }, o), cancellationToken).ConfigureAwait(false);
        return new Found(node, volume, subsystem);
    }

    /// <summary>
    /// The volume <paramref name="volumeName"/> on whichever node has it, or null. A node that does
    /// not answer is skipped and logged: provisioning goes on without it (should it hold the volume,
    /// that copy is left over, never used: the volume ID names the node it was made on).
    /// </summary>
    public async Task<Found?> FindAnywhereAsync(string volumeName, CancellationToken cancellationToken)
    {
        var lookups = nodes.All.Select(async node =>
        {
            try
            {
                return await FindAsync(node, volumeName, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                Log.NodeSkipped(logger, node.Name, e.Status.Detail);
                return null;
            }
        });
        return (await Task.WhenAll(lookups).ConfigureAwait(false)).FirstOrDefault(f => f is not null);
    }

    /// <summary>What each answering node can take now (nodes that do not answer are left out and logged).</summary>
    public async Task<IReadOnlyList<(StorageNode Node, Cp.Capacity Capacity)>> CapacitiesAsync(IEnumerable<StorageNode> candidates, CancellationToken cancellationToken)
    {
        var asks = candidates.Select(async node =>
        {
            try
            {
                var capacity = await StorageCalls.CallAsync(node, Timeout, o => node.Volumes.GetCapacityAsync(new Cp.GetCapacityRequest(), o), cancellationToken).ConfigureAwait(false);
                return (node, capacity);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                Log.NodeSkipped(logger, node.Name, e.Status.Detail);
                return ((StorageNode, Cp.Capacity)?)null;
            }
        });
        return [.. (await Task.WhenAll(asks).ConfigureAwait(false)).Where(c => c is not null).Select(c => c!.Value)];
    }

    /// <summary>Makes the catalog volume on <paramref name="node"/>; an existing one of that name is taken as it is (a repeated call).</summary>
    public async Task<Cp.Volume> CreateVolumeAsync(StorageNode node, string volumeName, ulong sizeBytes, uint blockSize, CancellationToken cancellationToken)
    {
        try
        {
            var created = await StorageCalls.CallAsync(node, Timeout, o => node.Volumes.CreateVolumeAsync(
                new Cp.CreateVolumeRequest { Name = volumeName, SizeBytes = sizeBytes, BlockSize = blockSize }, o), cancellationToken).ConfigureAwait(false);
            Log.VolumeCreated(logger, volumeName, node.Name, sizeBytes);
            return created;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
        {
            return await StorageCalls.CallAsync(node, Timeout, o => node.Volumes.GetVolumeAsync(new Cp.GetVolumeRequest { Name = volumeName }, o), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The volume's own subsystem, with namespace 1 exporting it and no host admitted yet: made if missing, completed if half made.</summary>
    public async Task<Cp.Subsystem> EnsureExportedAsync(StorageNode node, string volumeName, CancellationToken cancellationToken)
    {
        string nqn = VolumeNaming.SubsystemNqn(volumeName);
        var subsystem = await StorageCalls.FindAsync(node, Timeout, o => node.Subsystems.GetSubsystemAsync(new Cp.GetSubsystemRequest { Nqn = nqn }, o), cancellationToken).ConfigureAwait(false);
        if (subsystem is null)
        {
            try
            {
                subsystem = await StorageCalls.CallAsync(node, Timeout, o => node.Subsystems.CreateSubsystemAsync(new Cp.CreateSubsystemRequest { Nqn = nqn }, o), cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
            {
                subsystem = await StorageCalls.CallAsync(node, Timeout, o => node.Subsystems.GetSubsystemAsync(new Cp.GetSubsystemRequest { Nqn = nqn }, o), cancellationToken).ConfigureAwait(false);
            }
        }

        if (subsystem.Namespaces.Any(n => n.Id == VolumeContext.NamespaceId && n.Volume == volumeName))
        {
            return subsystem;
        }

        try
        {
            return await StorageCalls.CallAsync(node, Timeout, o => node.Subsystems.AddNamespaceAsync(
                new Cp.AddNamespaceRequest { SubsystemNqn = nqn, Volume = volumeName, NamespaceId = VolumeContext.NamespaceId }, o), cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.AlreadyExists)
        {
            // A repeated call raced us, or the NSID holds another volume: look, and say which.
            var now = await StorageCalls.CallAsync(node, Timeout, o => node.Subsystems.GetSubsystemAsync(new Cp.GetSubsystemRequest { Nqn = nqn }, o), cancellationToken).ConfigureAwait(false);
            return now.Namespaces.Any(n => n.Id == VolumeContext.NamespaceId && n.Volume == volumeName) ? now
                : throw new RpcException(new Status(StatusCode.Internal, $"Subsystem {nqn} on {node.Name} exports something else as namespace 1: {e.Status.Detail}"));
        }
    }

    /// <summary>Where hosts reach <paramref name="node"/>: its configured addresses, or its listeners (a wildcard one as the control plane's host).</summary>
    public async Task<IReadOnlyList<string>> PathsAsync(StorageNode node, CancellationToken cancellationToken)
    {
        if (node.NvmeAddresses.Count > 0)
        {
            return node.NvmeAddresses;
        }

        var listeners = await StorageCalls.CallAsync(node, Timeout, o => node.Listeners.ListListenersAsync(new Cp.ListListenersRequest(), o), cancellationToken).ConfigureAwait(false);
        return [.. listeners.Listeners.Select(l =>
        {
            string address = IPAddress.TryParse(l.Address, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)) ? node.ControlPlane.Host : l.Address;
            return (address.Contains(':', StringComparison.Ordinal) && !address.StartsWith('[') ? $"[{address}]" : address) + ":" + l.Port;
        })];
    }

    /// <summary>Admits a host (its NQN) to the volume's subsystem.</summary>
    public async Task AdmitAsync(Found volume, string hostNqn, CancellationToken cancellationToken)
    {
        var node = volume.Node;
        await StorageCalls.CallAsync(node, Timeout, o => node.Subsystems.AddHostAsync(new Cp.HostRequest { SubsystemNqn = volume.Nqn, HostNqn = hostNqn }, o), cancellationToken).ConfigureAwait(false);
        Log.HostAdmitted(logger, hostNqn, volume.VolumeId);
    }

    /// <summary>Stops admitting a host and tears its controllers down (fencing); OK when it was not admitted.</summary>
    public async Task FenceAsync(Found volume, string hostNqn, CancellationToken cancellationToken)
    {
        var node = volume.Node;
        await StorageCalls.FindAsync(node, Timeout, o => node.Subsystems.RemoveHostAsync(
            new Cp.HostRequest { SubsystemNqn = volume.Nqn, HostNqn = hostNqn, Disconnect = true }, o), cancellationToken).ConfigureAwait(false);
        Log.HostFenced(logger, hostNqn, volume.VolumeId);
    }

    /// <summary>Grows the volume to <paramref name="sizeBytes"/>.</summary>
    public async Task<Cp.Volume> ResizeAsync(Found volume, ulong sizeBytes, CancellationToken cancellationToken)
    {
        var node = volume.Node;
        var resized = await StorageCalls.CallAsync(node, Timeout, o => node.Volumes.ResizeVolumeAsync(new Cp.ResizeVolumeRequest { Name = volume.Volume.Name, SizeBytes = sizeBytes }, o), cancellationToken).ConfigureAwait(false);
        Log.VolumeResized(logger, volume.VolumeId, sizeBytes);
        return resized;
    }

    /// <summary>
    /// Removes the subsystem and then the volume and its data. FAILED_PRECONDITION while hosts are
    /// connected (the node refuses, and says which hosts); both steps are OK when already done.
    /// </summary>
    public async Task DeleteAsync(StorageNode node, string volumeName, CancellationToken cancellationToken)
    {
        string nqn = VolumeNaming.SubsystemNqn(volumeName);
        await StorageCalls.FindAsync(node, Timeout, o => node.Subsystems.DeleteSubsystemAsync(new Cp.DeleteSubsystemRequest { Nqn = nqn }, o), cancellationToken).ConfigureAwait(false);
        await StorageCalls.FindAsync(node, Timeout, o => node.Volumes.DeleteVolumeAsync(new Cp.DeleteVolumeRequest { Name = volumeName }, o), cancellationToken).ConfigureAwait(false);
        Log.VolumeDeleted(logger, volumeName, node.Name);
    }

    /// <summary>Every CSI volume on every answering node (a catalog volume exported by a subsystem this driver names).</summary>
    public async Task<IReadOnlyList<Found>> ListAsync(CancellationToken cancellationToken)
    {
        var lists = nodes.All.Select(async node =>
        {
            var volumes = await StorageCalls.CallAsync(node, Timeout, o => node.Volumes.ListVolumesAsync(new Cp.ListVolumesRequest(), o), cancellationToken).ConfigureAwait(false);
            var subsystems = await StorageCalls.CallAsync(node, Timeout, o => node.Subsystems.ListSubsystemsAsync(new Cp.ListSubsystemsRequest(), o), cancellationToken).ConfigureAwait(false);
            var byNqn = subsystems.Subsystems.ToDictionary(s => s.Nqn, StringComparer.Ordinal);
            return volumes.Volumes
                .Where(v => byNqn.ContainsKey(VolumeNaming.SubsystemNqn(v.Name)))
                .Select(v => new Found(node, v, byNqn[VolumeNaming.SubsystemNqn(v.Name)]));
        });
        return [.. (await Task.WhenAll(lists).ConfigureAwait(false)).SelectMany(f => f).OrderBy(f => f.VolumeId, StringComparer.Ordinal)];
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Storage node {Node} skipped: {Reason}")]
        public static partial void NodeSkipped(ILogger logger, string node, string reason);

        [LoggerMessage(2, LogLevel.Information, "Created volume {Volume} on {Node} ({Bytes} bytes)")]
        public static partial void VolumeCreated(ILogger logger, string volume, string node, ulong bytes);

        [LoggerMessage(3, LogLevel.Information, "Admitted host {Host} to {VolumeId}")]
        public static partial void HostAdmitted(ILogger logger, string host, string volumeId);

        [LoggerMessage(4, LogLevel.Information, "Fenced host {Host} from {VolumeId} (its controllers torn down)")]
        public static partial void HostFenced(ILogger logger, string host, string volumeId);

        [LoggerMessage(5, LogLevel.Information, "Grew {VolumeId} to {Bytes} bytes")]
        public static partial void VolumeResized(ILogger logger, string volumeId, ulong bytes);

        [LoggerMessage(6, LogLevel.Information, "Deleted volume {Volume} on {Node}")]
        public static partial void VolumeDeleted(ILogger logger, string volume, string node);
    }
}
