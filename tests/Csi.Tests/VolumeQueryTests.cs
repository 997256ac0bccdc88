using Grpc.Core;
using NovaStor.Csi.V1;
using NovaStor.Initiator;
using NovaStor.Target.Tests;
using Xunit;
using static NovaStor.Csi.Tests.CsiDriver;
using Mode = NovaStor.Csi.V1.VolumeCapability.Types.AccessMode.Types.Mode;
using RpcType = NovaStor.Csi.V1.ControllerServiceCapability.Types.RPC.Types.Type;

namespace NovaStor.Csi.Tests;

/// <summary>
/// ValidateVolumeCapabilities, ListVolumes (pagination; an invalid token is ABORTED), GetCapacity
/// (per node by topology; 0 for what cannot be made), ControllerExpandVolume (exactly the size
/// asked, never smaller, node expansion for filesystems) and ControllerGetCapabilities.
/// </summary>
public sealed class VolumeQueryTests(TwoNodeDriver fixture) : IClassFixture<TwoNodeDriver>
{
    private CsiDriver Driver => fixture.Driver;

    [Fact]
    public async Task The_capabilities_advertised_are_the_ones_served()
    {
        var response = await Driver.Controller.ControllerGetCapabilitiesAsync(new ControllerGetCapabilitiesRequest(), deadline: Deadline);
        Assert.Equal(
            new[] { RpcType.CreateDeleteVolume, RpcType.PublishUnpublishVolume, RpcType.ListVolumes, RpcType.GetCapacity, RpcType.ExpandVolume, RpcType.ListVolumesPublishedNodes, RpcType.SingleNodeMultiWriter }.Order(),
            response.Capabilities.Select(c => c.Rpc.Type).Order());
    }

    [Fact]
    public async Task Capabilities_are_confirmed_only_when_all_are_served()
    {
        var volume = (await Driver.Controller.CreateVolumeAsync(Capabilities.Create("validated", 1 << 20), deadline: Deadline)).Volume;
        var request = new ValidateVolumeCapabilitiesRequest
        {
            VolumeId = volume.VolumeId,
            VolumeCapabilities = { Capabilities.Mount("xfs"), Capabilities.Block(Mode.MultiNodeReaderOnly), Capabilities.Mount("ext4", Mode.SingleNodeSingleWriter) },
            VolumeContext = { volume.VolumeContext },
        };
        var confirmed = await Driver.Controller.ValidateVolumeCapabilitiesAsync(request, deadline: Deadline);
        Assert.Equal(request.VolumeCapabilities, confirmed.Confirmed.VolumeCapabilities);
        Assert.Equal(volume.VolumeContext, confirmed.Confirmed.VolumeContext);

        request.VolumeCapabilities.Add(Capabilities.Mount("ext4", Mode.MultiNodeMultiWriter));
        var refused = await Driver.Controller.ValidateVolumeCapabilitiesAsync(request, deadline: Deadline);
        Assert.Null(refused.Confirmed);
        Assert.Contains("several nodes", refused.Message, StringComparison.Ordinal);

        await RefusedAsync(StatusCode.NotFound, "no volume", () => Driver.Controller.ValidateVolumeCapabilitiesAsync(
            new ValidateVolumeCapabilitiesRequest { VolumeId = "node-b/absent", VolumeCapabilities = { Capabilities.Mount() } }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "volume_capabilities", () => Driver.Controller.ValidateVolumeCapabilitiesAsync(
            new ValidateVolumeCapabilitiesRequest { VolumeId = volume.VolumeId }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "volume_id", () => Driver.Controller.ValidateVolumeCapabilitiesAsync(
            new ValidateVolumeCapabilitiesRequest { VolumeCapabilities = { Capabilities.Mount() } }, deadline: Deadline).ResponseAsync);
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline);
    }

    [Fact]
    public async Task Volumes_are_listed_page_by_page_and_an_unknown_token_is_aborted()
    {
        var made = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            var request = Capabilities.Create($"listed-{i}", 1 << 20, requisiteNodes: i % 2 == 0 ? "node-a" : "node-b");
            made.Add((await Driver.Controller.CreateVolumeAsync(request, deadline: Deadline)).Volume.VolumeId);
        }

        var seen = new List<string>();
        string token = "";
        for (int page = 0; page < 100; page++)
        {
            var response = await Driver.Controller.ListVolumesAsync(new ListVolumesRequest { MaxEntries = 2, StartingToken = token }, deadline: Deadline);
            Assert.InRange(response.Entries.Count, 0, 2);
            seen.AddRange(response.Entries.Select(e => e.Volume.VolumeId));
            Assert.All(response.Entries, e => Assert.Equal(e.Volume.VolumeId.Split('/')[0], e.Volume.AccessibleTopology[0].Segments["novastor.io/node"]));
            token = response.NextToken;
            if (token.Length == 0)
            {
                break;
            }
        }

        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Superset(made.ToHashSet(), seen.ToHashSet());
        var all = await Driver.Controller.ListVolumesAsync(new ListVolumesRequest(), deadline: Deadline);
        Assert.Equal(seen, all.Entries.Select(e => e.Volume.VolumeId));
        Assert.Empty(all.NextToken);

        await RefusedAsync(StatusCode.Aborted, "starting_token", () => Driver.Controller.ListVolumesAsync(new ListVolumesRequest { StartingToken = "bogus" }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.Aborted, "starting_token", () => Driver.Controller.ListVolumesAsync(new ListVolumesRequest { StartingToken = "100000" }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "max_entries", () => Driver.Controller.ListVolumesAsync(new ListVolumesRequest { MaxEntries = -1 }, deadline: Deadline).ResponseAsync);
        foreach (string id in made)
        {
            await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = id }, deadline: Deadline);
        }
    }

    [Fact]
    public async Task Capacity_is_given_per_node_and_in_total()
    {
        static GetCapacityRequest On(string node) => new() { AccessibleTopology = new Topology { Segments = { ["novastor.io/node"] = node } } };
        var total = await Driver.Controller.GetCapacityAsync(new GetCapacityRequest(), deadline: Deadline);
        var a = await Driver.Controller.GetCapacityAsync(On("node-a"), deadline: Deadline);
        var b = await Driver.Controller.GetCapacityAsync(On("node-b"), deadline: Deadline);
        Assert.True(a.AvailableCapacity > 0 && b.AvailableCapacity > 0);
        Assert.True(a.MaximumVolumeSize > 0);
        // Both nodes' data folders are on the same filesystem here: the total counts each node's view.
        Assert.InRange(total.AvailableCapacity, Math.Max(a.AvailableCapacity, b.AvailableCapacity) - (1L << 30), a.AvailableCapacity + b.AvailableCapacity + (1L << 30));

        Assert.Equal(0, (await Driver.Controller.GetCapacityAsync(On("node-z"), deadline: Deadline)).AvailableCapacity);
        var shared = new GetCapacityRequest { VolumeCapabilities = { Capabilities.Mount("ext4", Mode.MultiNodeMultiWriter) } };
        Assert.Equal(0, (await Driver.Controller.GetCapacityAsync(shared, deadline: Deadline)).AvailableCapacity);
    }

    [Fact]
    public async Task A_volume_grows_to_exactly_the_size_asked_while_its_host_stays_connected()
    {
        var volume = (await Driver.Controller.CreateVolumeAsync(Capabilities.Create("grows", 8 << 20), deadline: Deadline)).Volume;
        var host = HostIdentity.Create();
        await Driver.Controller.ControllerPublishVolumeAsync(new ControllerPublishVolumeRequest
        {
            VolumeId = volume.VolumeId,
            NodeId = host.HostNqn,
            VolumeCapability = Capabilities.Mount(),
        }, deadline: Deadline);
        var path = System.Net.IPEndPoint.Parse(volume.VolumeContext["novastor.io/paths"]);
        var admin = await HostController.ConnectAsync(path, volume.VolumeContext["novastor.io/nqn"], host).Within();

        var grown = await Driver.Controller.ControllerExpandVolumeAsync(new ControllerExpandVolumeRequest
        {
            VolumeId = volume.VolumeId,
            CapacityRange = new CapacityRange { RequiredBytes = 24 << 20 },
            VolumeCapability = Capabilities.Mount(),
        }, deadline: Deadline);
        Assert.Equal(24L << 20, grown.CapacityBytes);
        Assert.True(grown.NodeExpansionRequired);
        var id = await admin.IdentifyAsync(Protocol.IdentifyCns.Namespace, 1).Within();
        Assert.Equal((24UL << 20) / 4096, BitConverter.ToUInt64(id, 0)); // NSZE: the host sees the new size

        // Smaller or equal: OK, nothing shrinks. A block volume needs nothing on the node.
        var same = await Driver.Controller.ControllerExpandVolumeAsync(new ControllerExpandVolumeRequest
        {
            VolumeId = volume.VolumeId,
            CapacityRange = new CapacityRange { RequiredBytes = 10 << 20 },
            VolumeCapability = Capabilities.Block(),
        }, deadline: Deadline);
        Assert.Equal(24L << 20, same.CapacityBytes);
        Assert.False(same.NodeExpansionRequired);

        await RefusedAsync(StatusCode.NotFound, "no volume", () => Driver.Controller.ControllerExpandVolumeAsync(new ControllerExpandVolumeRequest
        {
            VolumeId = "node-a/absent",
            CapacityRange = new CapacityRange { RequiredBytes = 1 << 20 },
        }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "capacity_range", () => Driver.Controller.ControllerExpandVolumeAsync(
            new ControllerExpandVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.OutOfRange, "not a range", () => Driver.Controller.ControllerExpandVolumeAsync(new ControllerExpandVolumeRequest
        {
            VolumeId = volume.VolumeId,
            CapacityRange = new CapacityRange { RequiredBytes = 64 << 20, LimitBytes = 32 << 20 },
        }, deadline: Deadline).ResponseAsync);

        await admin.DisposeAsync();
        await Driver.Controller.ControllerUnpublishVolumeAsync(new ControllerUnpublishVolumeRequest { VolumeId = volume.VolumeId, NodeId = host.HostNqn }, deadline: Deadline);
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline);
    }
}
