using System.Net;
using Grpc.Core;
using NovaStor.Csi.V1;
using NovaStor.Initiator;
using NovaStor.Target.Tests;
using Xunit;
using static NovaStor.Csi.Tests.CsiDriver;
using Mode = NovaStor.Csi.V1.VolumeCapability.Types.AccessMode.Types.Mode;

namespace NovaStor.Csi.Tests;

/// <summary>
/// ControllerPublishVolume admits the node's host NQN (its node ID) to the volume's subsystem, so
/// that host, and only it, connects; ControllerUnpublishVolume fences it (its controllers go, and it
/// cannot come back). The CSI rules: idempotent both ways, NOT_FOUND for an unknown volume or node,
/// FAILED_PRECONDITION for a second node on a single-node volume, OK to unpublish what is not.
/// </summary>
public sealed class PublishTests(TwoNodeDriver fixture) : IClassFixture<TwoNodeDriver>
{
    private CsiDriver Driver => fixture.Driver;

    private async Task<Volume> CreateAsync(string name, VolumeCapability? capability = null) =>
        (await Driver.Controller.CreateVolumeAsync(Capabilities.Create(name, 8 << 20, capability), deadline: Deadline)).Volume;

    private Task<ControllerPublishVolumeResponse> PublishAsync(Volume volume, HostIdentity host, VolumeCapability? capability = null) =>
        Driver.Controller.ControllerPublishVolumeAsync(new ControllerPublishVolumeRequest
        {
            VolumeId = volume.VolumeId,
            NodeId = host.HostNqn,
            VolumeCapability = capability ?? Capabilities.Mount(),
            VolumeContext = { volume.VolumeContext },
        }, deadline: Deadline).ResponseAsync;

    private Task<ControllerUnpublishVolumeResponse> UnpublishAsync(string volumeId, string nodeId = "") =>
        Driver.Controller.ControllerUnpublishVolumeAsync(new ControllerUnpublishVolumeRequest { VolumeId = volumeId, NodeId = nodeId }, deadline: Deadline).ResponseAsync;

    private static IPEndPoint PathOf(Volume volume) => IPEndPoint.Parse(volume.VolumeContext["novastor.io/paths"].Split(',')[0]);

    private static Task<NvmeController> ConnectAsync(Volume volume, HostIdentity host) =>
        NvmeController.ConnectAsync(PathOf(volume), volume.VolumeContext["novastor.io/nqn"], new NvmeConnectionOptions { Host = host }).Within();

    [Fact]
    public async Task The_published_node_connects_sees_the_volume_it_was_promised_and_is_fenced_on_unpublish()
    {
        var volume = await CreateAsync("published-1");
        var host = HostIdentity.Create();
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(volume, host));

        await PublishAsync(volume, host);
        await PublishAsync(volume, host); // again: OK
        await using (var admin = await HostController.ConnectAsync(PathOf(volume), volume.VolumeContext["novastor.io/nqn"], host).Within())
        {
            // The namespace is the one the volume context names (what the node plugin checks before it uses a device).
            var id = await admin.IdentifyAsync(Protocol.IdentifyCns.Namespace, 1).Within();
            Assert.Equal(volume.VolumeContext["novastor.io/nguid"], Convert.ToHexStringLower(id.AsSpan(104, 16)));
        }

        await using (var controller = await ConnectAsync(volume, host))
        {
            var data = Nvme.RandomBytes(64 * 1024, 7);
            (await controller.Namespace(1).WriteAsync(0, data).AsTask().Within()).ThrowIfFailed("write");
            var back = new byte[data.Length];
            (await controller.Namespace(1).ReadAsync(0, back).AsTask().Within()).ThrowIfFailed("read");
            Assert.Equal(data, back);

            await UnpublishAsync(volume.VolumeId, host.HostNqn);
            var fenced = new byte[4096];
            await Assert.ThrowsAnyAsync<Exception>(async () => (await controller.Namespace(1).ReadAsync(0, fenced).AsTask().Within()).ThrowIfFailed("read"));
        }

        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(volume, host));
        await UnpublishAsync(volume.VolumeId, host.HostNqn); // again: OK
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline);
    }

    [Fact]
    public async Task A_single_node_volume_refuses_a_second_node_and_a_shared_block_volume_takes_it()
    {
        var single = await CreateAsync("single-node");
        HostIdentity first = HostIdentity.Create(), second = HostIdentity.Create();
        await PublishAsync(single, first);
        var refused = await RefusedAsync(StatusCode.FailedPrecondition, first.HostNqn, () => PublishAsync(single, second));
        Assert.Contains("allows one node", refused.Status.Detail, StringComparison.Ordinal);

        var shared = await CreateAsync("shared-block", Capabilities.Block(Mode.MultiNodeMultiWriter));
        await PublishAsync(shared, first, Capabilities.Block(Mode.MultiNodeMultiWriter));
        await PublishAsync(shared, second, Capabilities.Block(Mode.MultiNodeMultiWriter));
        await using (await ConnectAsync(shared, first))
        await using (await ConnectAsync(shared, second))
        {
        }

        // Listed with the nodes it is published to.
        var listed = await Driver.Controller.ListVolumesAsync(new ListVolumesRequest(), deadline: Deadline);
        Assert.Equal(new[] { first.HostNqn, second.HostNqn }.Order(StringComparer.Ordinal),
            listed.Entries.Single(e => e.Volume.VolumeId == shared.VolumeId).Status.PublishedNodeIds.Order(StringComparer.Ordinal));

        // No node ID: unpublished from every node.
        await UnpublishAsync(shared.VolumeId);
        listed = await Driver.Controller.ListVolumesAsync(new ListVolumesRequest(), deadline: Deadline);
        Assert.Empty(listed.Entries.Single(e => e.Volume.VolumeId == shared.VolumeId).Status.PublishedNodeIds);

        await UnpublishAsync(single.VolumeId, first.HostNqn);
        await PublishAsync(single, second);
        await UnpublishAsync(single.VolumeId, second.HostNqn);
        foreach (var volume in new[] { single, shared })
        {
            await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline);
        }
    }

    [Fact]
    public async Task Bad_publish_requests_get_the_codes_the_specification_names()
    {
        var volume = await CreateAsync("publish-errors");
        var host = HostIdentity.Create();
        await RefusedAsync(StatusCode.InvalidArgument, "volume_id", () => Driver.Controller.ControllerPublishVolumeAsync(
            new ControllerPublishVolumeRequest { NodeId = host.HostNqn, VolumeCapability = Capabilities.Mount() }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "node_id", () => Driver.Controller.ControllerPublishVolumeAsync(
            new ControllerPublishVolumeRequest { VolumeId = volume.VolumeId, VolumeCapability = Capabilities.Mount() }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "capability is missing", () => Driver.Controller.ControllerPublishVolumeAsync(
            new ControllerPublishVolumeRequest { VolumeId = volume.VolumeId, NodeId = host.HostNqn }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.NotFound, "no volume", () => Driver.Controller.ControllerPublishVolumeAsync(
            new ControllerPublishVolumeRequest { VolumeId = "node-a/missing", NodeId = host.HostNqn, VolumeCapability = Capabilities.Mount() }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.NotFound, "host NQN", () => Driver.Controller.ControllerPublishVolumeAsync(
            new ControllerPublishVolumeRequest { VolumeId = volume.VolumeId, NodeId = "worker-7", VolumeCapability = Capabilities.Mount() }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "Read-only", () => Driver.Controller.ControllerPublishVolumeAsync(
            new ControllerPublishVolumeRequest { VolumeId = volume.VolumeId, NodeId = host.HostNqn, VolumeCapability = Capabilities.Mount(), Readonly = true }, deadline: Deadline).ResponseAsync);

        // Unpublishing what is not published, or does not exist, is OK; a missing volume_id is not.
        await UnpublishAsync(volume.VolumeId, host.HostNqn);
        await UnpublishAsync("node-a/missing", host.HostNqn);
        await UnpublishAsync("nonsense", host.HostNqn);
        await RefusedAsync(StatusCode.InvalidArgument, "volume_id", () => UnpublishAsync(""));
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline);
    }

    [Fact]
    public async Task A_volume_a_host_is_connected_to_is_not_deleted()
    {
        var volume = await CreateAsync("in-use");
        var host = HostIdentity.Create();
        await PublishAsync(volume, host);
        await using (await ConnectAsync(volume, host))
        {
            await RefusedAsync(StatusCode.FailedPrecondition, host.HostNqn, () => Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline).ResponseAsync);
        }

        await UnpublishAsync(volume.VolumeId, host.HostNqn);
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline);
    }
}
