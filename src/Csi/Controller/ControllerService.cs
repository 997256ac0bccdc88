using Grpc.Core;
using NovaStor.Csi.V1;
using Mode = NovaStor.Csi.V1.VolumeCapability.Types.AccessMode.Types.Mode;
using RpcType = NovaStor.Csi.V1.ControllerServiceCapability.Types.RPC.Types.Type;

namespace NovaStor.Csi.Controller;

/// <summary>
/// CSI Controller: volumes on the storage nodes, created idempotently by name, published to a node
/// by admitting its host NQN (the node ID) to the volume's subsystem and unpublished by fencing it.
/// Snapshots, clones and the alpha RPCs are not offered (not advertised; UNIMPLEMENTED).
/// </summary>
internal sealed class ControllerService(VolumeProvisioner provisioner, StorageNodes nodes) : V1.Controller.ControllerBase
{
    /// <summary>A volume with no size asked for: 1 GiB.</summary>
    public const ulong DefaultSizeBytes = 1UL << 30;

    public override async Task<CreateVolumeResponse> CreateVolume(CreateVolumeRequest request, ServerCallContext context)
    {
        if (request.Name.Length == 0)
        {
            throw Refused(StatusCode.InvalidArgument, "name is required.");
        }

        if (VolumeCapabilities.Problem(request.VolumeCapabilities) is { } problem)
        {
            throw Refused(StatusCode.InvalidArgument, $"Volume {request.Name}: {problem}.");
        }

        if (request.VolumeContentSource is not null)
        {
            throw Refused(StatusCode.InvalidArgument, "Creating a volume from a snapshot or another volume is not offered by this driver.");
        }

        var parameters = StorageClassParameters.Parse(request.Parameters);
        uint blockSize = parameters.BlockSize;
        var (size, limit) = SizeOf(request.CapacityRange, blockSize);
        string volumeName = VolumeNaming.VolumeName(request.Name);
        var token = context.CancellationToken;

        var existing = await provisioner.FindAnywhereAsync(volumeName, token).ConfigureAwait(false);
        if (existing is not null)
        {
            CheckCompatible(request, existing, size, limit, blockSize);
            await provisioner.EnsureExportedAsync(existing.Node, volumeName, token).ConfigureAwait(false);
            return await AnswerAsync(existing.Node, volumeName, parameters.AttachMode, token).ConfigureAwait(false);
        }

        foreach (var node in await PlacementAsync(request.AccessibilityRequirements, size, token).ConfigureAwait(false))
        {
            try
            {
                await provisioner.CreateVolumeAsync(node, volumeName, size, blockSize, token).ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                continue; // filled up since it reported its capacity: the next candidate
            }

            await provisioner.EnsureExportedAsync(node, volumeName, token).ConfigureAwait(false);
            return await AnswerAsync(node, volumeName, parameters.AttachMode, token).ConfigureAwait(false);
        }

        throw Refused(StatusCode.ResourceExhausted, $"No storage node {DescribeTopology(request.AccessibilityRequirements)}can hold {size} bytes now.");
    }

    public override async Task<DeleteVolumeResponse> DeleteVolume(DeleteVolumeRequest request, ServerCallContext context)
    {
        RequireVolumeId(request.VolumeId);
        // An ID this driver could not have made, or of a node no longer configured: nothing to delete.
        if (provisioner.NodeOf(request.VolumeId, out string volumeName) is { } node)
        {
            await provisioner.DeleteAsync(node, volumeName, context.CancellationToken).ConfigureAwait(false);
        }

        return new DeleteVolumeResponse();
    }

    public override async Task<ControllerPublishVolumeResponse> ControllerPublishVolume(ControllerPublishVolumeRequest request, ServerCallContext context)
    {
        RequireVolumeId(request.VolumeId);
        if (request.NodeId.Length == 0)
        {
            throw Refused(StatusCode.InvalidArgument, "node_id is required.");
        }

        if (VolumeCapabilities.Problem(request.VolumeCapability) is { } problem)
        {
            throw Refused(StatusCode.InvalidArgument, $"Volume {request.VolumeId}: {problem}.");
        }

        if (request.Readonly)
        {
            throw Refused(StatusCode.InvalidArgument, "Read-only publishing is not offered (no PUBLISH_READONLY capability); the node mounts read-only when asked.");
        }

        if (!HostNqn.IsValid(request.NodeId))
        {
            throw Refused(StatusCode.NotFound, $"Node '{request.NodeId}' is not a node of this driver: its node ID is the node's host NQN (nqn. and at most 223 bytes).");
        }

        var volume = await FindAsync(request.VolumeId, context.CancellationToken).ConfigureAwait(false);
        string[] hosts = volume.Subsystem is { } subsystem ? [.. subsystem.AllowedHosts] : [];
        if (hosts.Contains(request.NodeId, StringComparer.Ordinal))
        {
            return new ControllerPublishVolumeResponse();
        }

        var mode = request.VolumeCapability.AccessMode.Mode;
        if (hosts.Length > 0 && !VolumeCapabilities.IsMultiNode(mode))
        {
            throw Refused(StatusCode.FailedPrecondition, $"Volume {request.VolumeId} is published to node {string.Join(", ", hosts)}, and access mode {mode} allows one node.");
        }

        await provisioner.EnsureExportedAsync(volume.Node, volume.Volume.Name, context.CancellationToken).ConfigureAwait(false);
        await provisioner.AdmitAsync(volume, request.NodeId, context.CancellationToken).ConfigureAwait(false);
        return new ControllerPublishVolumeResponse();
    }

    public override async Task<ControllerUnpublishVolumeResponse> ControllerUnpublishVolume(ControllerUnpublishVolumeRequest request, ServerCallContext context)
    {
        RequireVolumeId(request.VolumeId);
        if (provisioner.NodeOf(request.VolumeId, out string volumeName) is not { } node
            || await provisioner.FindAsync(node, volumeName, context.CancellationToken).ConfigureAwait(false) is not { Subsystem: { } subsystem } volume)
        {
            return new ControllerUnpublishVolumeResponse(); // nothing published anywhere
        }

        // No node ID: unpublish from every node.
        string[] hosts = request.NodeId.Length > 0 ? [request.NodeId] : [.. subsystem.AllowedHosts];
        foreach (string host in hosts)
        {
            await provisioner.FenceAsync(volume, host, context.CancellationToken).ConfigureAwait(false);
        }

        return new ControllerUnpublishVolumeResponse();
    }

    public override async Task<ValidateVolumeCapabilitiesResponse> ValidateVolumeCapabilities(ValidateVolumeCapabilitiesRequest request, ServerCallContext context)
    {
        RequireVolumeId(request.VolumeId);
        if (request.VolumeCapabilities.Count == 0)
        {
            throw Refused(StatusCode.InvalidArgument, "volume_capabilities is required.");
        }

        await FindAsync(request.VolumeId, context.CancellationToken).ConfigureAwait(false);
        if (VolumeCapabilities.Problem(request.VolumeCapabilities) is { } problem)
        {
            return new ValidateVolumeCapabilitiesResponse { Message = problem };
        }

        var confirmed = new ValidateVolumeCapabilitiesResponse.Types.Confirmed();
        confirmed.VolumeCapabilities.AddRange(request.VolumeCapabilities);
        confirmed.VolumeContext.Add(request.VolumeContext);
        confirmed.Parameters.Add(request.Parameters);
        return new ValidateVolumeCapabilitiesResponse { Confirmed = confirmed };
    }

    public override async Task<ListVolumesResponse> ListVolumes(ListVolumesRequest request, ServerCallContext context)
    {
        if (request.MaxEntries < 0)
        {
            throw Refused(StatusCode.InvalidArgument, "max_entries must not be negative.");
        }

        var all = await provisioner.ListAsync(context.CancellationToken).ConfigureAwait(false);
        int start = 0;
        if (request.StartingToken.Length > 0 && (!int.TryParse(request.StartingToken, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out start) || start > all.Count))
        {
            throw Refused(StatusCode.Aborted, $"starting_token '{request.StartingToken}' is not one this driver gave; list again from the start.");
        }

        int count = request.MaxEntries == 0 ? all.Count - start : Math.Min(request.MaxEntries, all.Count - start);
        var response = new ListVolumesResponse();
        foreach (var found in all.Skip(start).Take(count))
        {
            var status = new ListVolumesResponse.Types.VolumeStatus();
            status.PublishedNodeIds.AddRange(found.Subsystem?.AllowedHosts ?? []);
            response.Entries.Add(new ListVolumesResponse.Types.Entry { Volume = Describe(found, paths: null), Status = status });
        }

        if (start + count < all.Count)
        {
            response.NextToken = (start + count).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return response;
    }

    public override async Task<GetCapacityResponse> GetCapacity(GetCapacityRequest request, ServerCallContext context)
    {
        if (request.VolumeCapabilities.Count > 0 && VolumeCapabilities.Problem(request.VolumeCapabilities) is not null)
        {
            return new GetCapacityResponse(); // nothing can be made for such a volume
        }

        IEnumerable<StorageNode> scope = nodes.All;
        if (request.AccessibleTopology is { } topology)
        {
            scope = topology.Segments.TryGetValue(CsiOptions.TopologyKey, out string? name) && nodes.Find(name) is { } node ? [node] : [];
        }

        var capacities = await provisioner.CapacitiesAsync(scope, context.CancellationToken).ConfigureAwait(false);
        return new GetCapacityResponse
        {
            AvailableCapacity = (long)capacities.Aggregate(0UL, (sum, c) => sum + c.Capacity.AvailableBytes),
            MaximumVolumeSize = capacities.Count == 0 ? null : (long)capacities.Max(c => c.Capacity.MaximumVolumeBytes),
        };
    }

    public override async Task<ControllerExpandVolumeResponse> ControllerExpandVolume(ControllerExpandVolumeRequest request, ServerCallContext context)
    {
        RequireVolumeId(request.VolumeId);
        if (request.CapacityRange is null || (request.CapacityRange.RequiredBytes <= 0 && request.CapacityRange.LimitBytes <= 0))
        {
            throw Refused(StatusCode.InvalidArgument, "capacity_range is required.");
        }

        if (request.VolumeCapability is not null && VolumeCapabilities.Problem(request.VolumeCapability) is { } problem)
        {
            throw Refused(StatusCode.InvalidArgument, $"Volume {request.VolumeId}: {problem}.");
        }

        var volume = await FindAsync(request.VolumeId, context.CancellationToken).ConfigureAwait(false);
        var (size, _) = SizeOf(request.CapacityRange, volume.Volume.BlockSize);
        ulong now = volume.Volume.SizeBytes;
        if (size > now)
        {
            now = (await provisioner.ResizeAsync(volume, size, context.CancellationToken).ConfigureAwait(false)).SizeBytes;
        }

        // A filesystem grows on the node (resize2fs, xfs_growfs); a block device is simply bigger.
        bool block = request.VolumeCapability?.AccessTypeCase == VolumeCapability.AccessTypeOneofCase.Block;
        return new ControllerExpandVolumeResponse { CapacityBytes = (long)now, NodeExpansionRequired = !block };
    }

    public override Task<ControllerGetCapabilitiesResponse> ControllerGetCapabilities(ControllerGetCapabilitiesRequest request, ServerCallContext context)
    {
        var response = new ControllerGetCapabilitiesResponse();
        RpcType[] offered =
        [
            RpcType.CreateDeleteVolume, RpcType.PublishUnpublishVolume, RpcType.ListVolumes, RpcType.ListVolumesPublishedNodes,
            RpcType.GetCapacity, RpcType.ExpandVolume, RpcType.SingleNodeMultiWriter,
        ];
        response.Capabilities.AddRange(offered.Select(type => new ControllerServiceCapability { Rpc = new ControllerServiceCapability.Types.RPC { Type = type } }));
        return Task.FromResult(response);
    }

    /// <summary>The volume a volume ID names, or NOT_FOUND.</summary>
    private async Task<VolumeProvisioner.Found> FindAsync(string volumeId, CancellationToken cancellationToken)
    {
        if (provisioner.NodeOf(volumeId, out string volumeName) is { } node
            && await provisioner.FindAsync(node, volumeName, cancellationToken).ConfigureAwait(false) is { } found)
        {
            return found;
        }

        throw Refused(StatusCode.NotFound, $"There is no volume {volumeId}.");
    }

    /// <summary>The nodes to try, best first: those the topology allows (preferred ones first, in order), then by free space; only those with room.</summary>
    private async Task<IReadOnlyList<StorageNode>> PlacementAsync(TopologyRequirement? requirement, ulong size, CancellationToken cancellationToken)
    {
        IEnumerable<StorageNode> allowed = nodes.All;
        var preferred = new List<string>();
        if (requirement is not null)
        {
            var requisite = requirement.Requisite.Select(NodeName).Where(n => n is not null).ToHashSet(StringComparer.Ordinal);
            preferred.AddRange(requirement.Preferred.Select(NodeName).OfType<string>());
            // Without requisite topologies any node may hold it, the preferred ones first.
            if (requirement.Requisite.Count > 0)
            {
                allowed = allowed.Where(n => requisite.Contains(n.Name));
            }
        }

        var candidates = allowed.ToList();
        var capacities = await provisioner.CapacitiesAsync(candidates, cancellationToken).ConfigureAwait(false);
        if (capacities.Count == 0 && candidates.Count > 0)
        {
            throw Refused(StatusCode.Unavailable, $"No storage node answered ({string.Join(", ", candidates.Select(n => n.Name))}); try again.");
        }

        return [.. capacities
            .Where(c => c.Capacity.MaximumVolumeBytes >= size)
            .OrderBy(c => preferred.IndexOf(c.Node.Name) is var i && i >= 0 ? i : int.MaxValue)
            .ThenByDescending(c => c.Capacity.AvailableBytes)
            .Select(c => c.Node)];
    }

    private static string? NodeName(Topology topology) => topology.Segments.GetValueOrDefault(CsiOptions.TopologyKey);

    private static string DescribeTopology(TopologyRequirement? requirement) =>
        requirement is { Requisite.Count: > 0 } ? $"among {string.Join(", ", requirement.Requisite.Select(NodeName))} " : "";

    /// <summary>An existing volume of the same name must fit the request, or the request is for another volume.</summary>
    private static void CheckCompatible(CreateVolumeRequest request, VolumeProvisioner.Found existing, ulong size, ulong limit, uint blockSize)
    {
        ulong actual = existing.Volume.SizeBytes;
        if (actual < size || (limit > 0 && actual > limit))
        {
            throw Refused(StatusCode.AlreadyExists, $"Volume {request.Name} exists with {actual} bytes, outside the requested range ({size}..{(limit > 0 ? limit : "any")}).");
        }

        if (request.AccessibilityRequirements is { Requisite.Count: > 0 } requirement && !requirement.Requisite.Any(t => NodeName(t) == existing.Node.Name))
        {
            throw Refused(StatusCode.AlreadyExists, $"Volume {request.Name} exists on node {existing.Node.Name}, outside the requested topology.");
        }

        if (existing.Volume.BlockSize != blockSize)
        {
            throw Refused(StatusCode.AlreadyExists, $"Volume {request.Name} exists with {existing.Volume.BlockSize}-byte blocks, not {blockSize}.");
        }
    }

    /// <summary>CreateVolume's answer for a volume that exists and is exported.</summary>
    private async Task<CreateVolumeResponse> AnswerAsync(StorageNode node, string volumeName, string? attachMode, CancellationToken cancellationToken)
    {
        var found = await provisioner.FindAsync(node, volumeName, cancellationToken).ConfigureAwait(false)
            ?? throw Refused(StatusCode.Aborted, $"Volume {volumeName} on {node.Name} went away while it was being created; try again.");
        var paths = await provisioner.PathsAsync(node, cancellationToken).ConfigureAwait(false);
        var volume = Describe(found, paths);
        if (attachMode is not null)
        {
            volume.VolumeContext[VolumeContext.Attach] = attachMode;
        }

        return new CreateVolumeResponse { Volume = volume };
    }

    private static Volume Describe(VolumeProvisioner.Found found, IReadOnlyList<string>? paths)
    {
        var volume = new Volume { VolumeId = found.VolumeId, CapacityBytes = (long)found.Volume.SizeBytes };
        volume.AccessibleTopology.Add(new Topology { Segments = { [CsiOptions.TopologyKey] = found.Node.Name } });
        volume.VolumeContext[VolumeContext.Node] = found.Node.Name;
        volume.VolumeContext[VolumeContext.Nqn] = found.Nqn;
        if (found.Subsystem?.Namespaces.FirstOrDefault(n => n.Id == VolumeContext.NamespaceId) is { } ns)
        {
            volume.VolumeContext[VolumeContext.Nguid] = ns.Nguid;
            volume.VolumeContext[VolumeContext.Uuid] = ns.Uuid;
        }

        if (paths is not null)
        {
            volume.VolumeContext[VolumeContext.Paths] = string.Join(',', paths);
        }

        return volume;
    }

    /// <summary>The size to make (required, rounded up to the block size; the default when none is given) and the limit (0: none).</summary>
    private static (ulong Size, ulong Limit) SizeOf(CapacityRange? range, uint blockSize)
    {
        long required = range?.RequiredBytes ?? 0, limit = range?.LimitBytes ?? 0;
        if (required < 0 || limit < 0 || (limit > 0 && required > limit))
        {
            throw Refused(StatusCode.OutOfRange, $"The capacity range (required {required}, limit {limit}) is not a range.");
        }

        ulong size = required > 0 ? (ulong)required : limit > 0 ? Math.Min(DefaultSizeBytes, (ulong)limit) : DefaultSizeBytes;
        size = (size + blockSize - 1) / blockSize * blockSize;
        if (limit > 0 && size > (ulong)limit)
        {
            throw Refused(StatusCode.OutOfRange, $"No whole number of {blockSize}-byte blocks lies between {required} and {limit} bytes.");
        }

        return (size, (ulong)limit);
    }

    private static void RequireVolumeId(string volumeId)
    {
        if (volumeId.Length == 0)
        {
            throw Refused(StatusCode.InvalidArgument, "volume_id is required.");
        }
    }

    private static RpcException Refused(StatusCode code, string message) => new(new Status(code, message));
}
