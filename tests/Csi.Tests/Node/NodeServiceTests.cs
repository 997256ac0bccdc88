using Grpc.Core;
using NovaStor.Csi.Hosting;
using NovaStor.Csi.V1;
using Xunit;
using static NovaStor.Csi.Tests.CsiDriver;
using NodeRpc = NovaStor.Csi.V1.NodeServiceCapability.Types.RPC.Types.Type;
using ServiceType = NovaStor.Csi.V1.PluginCapability.Types.Service.Types.Type;

namespace NovaStor.Csi.Tests.Node;

/// <summary>
/// The node plugin where no kernel NVMe host is needed: its identity and capabilities, Probe, the
/// argument rules, idempotent unpublish and unstage of what is not there, stats, and the check
/// with the managed initiator that refuses a target that does not answer or whose namespace is
/// not the volume's, before anything is connected.
/// </summary>
public sealed class NodeServiceTests
{
    [Fact]
    public async Task The_node_id_is_its_stable_host_nqn_and_its_topology_its_name()
    {
        string hostNqn;
        await using (var plugin = await NodePlugin.StartAsync("worker-7"))
        {
            var info = await plugin.Node.NodeGetInfoAsync(new NodeGetInfoRequest(), deadline: Deadline);
            hostNqn = plugin.HostNqn;
            Assert.Equal(hostNqn, info.NodeId);
            Assert.StartsWith("nqn.2014-08.org.nvmexpress:uuid:", info.NodeId, StringComparison.Ordinal);
            Assert.Equal("worker-7", info.AccessibleTopology.Segments["novastor.io/node"]);
            Assert.Equal(64, info.MaxVolumesPerNode);

            var capabilities = await plugin.Node.NodeGetCapabilitiesAsync(new NodeGetCapabilitiesRequest(), deadline: Deadline);
            Assert.Equal(new[] { NodeRpc.StageUnstageVolume, NodeRpc.GetVolumeStats, NodeRpc.ExpandVolume, NodeRpc.SingleNodeMultiWriter }.Order(),
                capabilities.Capabilities.Select(c => c.Rpc.Type).Order());

            // A node plugin serves no Controller service, and does not say it does.
            var plugin2 = await plugin.Identity.GetPluginCapabilitiesAsync(new GetPluginCapabilitiesRequest(), deadline: Deadline);
            Assert.DoesNotContain(plugin2.Capabilities, c => c.Service?.Type == ServiceType.ControllerService);
            Assert.Equal(StatusCode.Unimplemented, (await Assert.ThrowsAsync<RpcException>(() => new V1.Controller.ControllerClient(Connect(Path.Combine(plugin.Folder, "csi.sock")))
                .ControllerGetCapabilitiesAsync(new ControllerGetCapabilitiesRequest(), deadline: Deadline).ResponseAsync)).StatusCode);
        }
    }

    [Fact]
    public async Task Probe_is_ready_only_with_the_kernel_fabrics_host_and_nvme_cli()
    {
        await using var plugin = await NodePlugin.StartAsync();
        Assert.False((await plugin.Identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready); // no /dev/nvme-fabrics

        // The fabrics device exists: ready if nvme-cli runs (the test prerequisites install it).
        await File.WriteAllTextAsync(Path.Combine(plugin.Dev, "nvme-fabrics"), "");
        Assert.True((await plugin.Identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready);
    }

    public static TheoryData<string, string> MissingArguments => new()
    {
        { "stage: volume_id", "volume_id" },
        { "stage: staging path", "staging_target_path" },
        { "stage: capability", "capability is missing" },
        { "unstage: staging path", "staging_target_path" },
        { "publish: target path", "target_path" },
        { "publish: capability", "capability is missing" },
        { "unpublish: target path", "target_path" },
        { "stats: volume path", "volume_path" },
        { "expand: volume path", "volume_path" },
    };

    [Theory]
    [MemberData(nameof(MissingArguments))]
    public async Task A_missing_argument_is_invalid(string what, string words)
    {
        await using var plugin = await NodePlugin.StartAsync();
        var node = plugin.Node;
        const string Id = "node-a/pvc-1";
        Func<Task> call = what switch
        {
            "stage: volume_id" => () => node.NodeStageVolumeAsync(new NodeStageVolumeRequest { StagingTargetPath = "/x", VolumeCapability = Capabilities.Mount() }, deadline: Deadline).ResponseAsync,
            "stage: staging path" => () => node.NodeStageVolumeAsync(new NodeStageVolumeRequest { VolumeId = Id, VolumeCapability = Capabilities.Mount() }, deadline: Deadline).ResponseAsync,
            "stage: capability" => () => node.NodeStageVolumeAsync(new NodeStageVolumeRequest { VolumeId = Id, StagingTargetPath = "/x" }, deadline: Deadline).ResponseAsync,
            "unstage: staging path" => () => node.NodeUnstageVolumeAsync(new NodeUnstageVolumeRequest { VolumeId = Id }, deadline: Deadline).ResponseAsync,
            "publish: target path" => () => node.NodePublishVolumeAsync(new NodePublishVolumeRequest { VolumeId = Id, StagingTargetPath = "/x", VolumeCapability = Capabilities.Mount() }, deadline: Deadline).ResponseAsync,
            "publish: capability" => () => node.NodePublishVolumeAsync(new NodePublishVolumeRequest { VolumeId = Id, StagingTargetPath = "/x", TargetPath = "/y" }, deadline: Deadline).ResponseAsync,
            "unpublish: target path" => () => node.NodeUnpublishVolumeAsync(new NodeUnpublishVolumeRequest { VolumeId = Id }, deadline: Deadline).ResponseAsync,
            "stats: volume path" => () => node.NodeGetVolumeStatsAsync(new NodeGetVolumeStatsRequest { VolumeId = Id }, deadline: Deadline).ResponseAsync,
            _ => () => node.NodeExpandVolumeAsync(new NodeExpandVolumeRequest { VolumeId = Id }, deadline: Deadline).ResponseAsync,
        };
        await RefusedAsync(StatusCode.InvalidArgument, words, call);
    }

    [Fact]
    public async Task Unpublishing_and_unstaging_what_is_not_there_is_ok_and_stats_need_a_published_path()
    {
        await using var plugin = await NodePlugin.StartAsync();
        string missing = Path.Combine(plugin.Folder, "not-published");
        await plugin.Node.NodeUnpublishVolumeAsync(new NodeUnpublishVolumeRequest { VolumeId = "node-a/pvc-9", TargetPath = missing }, deadline: Deadline);
        await plugin.Node.NodeUnstageVolumeAsync(new NodeUnstageVolumeRequest { VolumeId = "node-a/pvc-9", StagingTargetPath = missing }, deadline: Deadline);

        // An empty directory left at a target path (a publish that died early) is removed.
        Directory.CreateDirectory(missing);
        await plugin.Node.NodeUnpublishVolumeAsync(new NodeUnpublishVolumeRequest { VolumeId = "node-a/pvc-9", TargetPath = missing }, deadline: Deadline);
        Assert.False(Directory.Exists(missing));

        await RefusedAsync(StatusCode.NotFound, "Nothing is published", () => plugin.Node.NodeGetVolumeStatsAsync(
            new NodeGetVolumeStatsRequest { VolumeId = "node-a/pvc-9", VolumePath = missing }, deadline: Deadline).ResponseAsync);

        // A mounted filesystem reports bytes and inodes (this machine's root stands in for a staged volume).
        var stats = await plugin.Node.NodeGetVolumeStatsAsync(new NodeGetVolumeStatsRequest { VolumeId = "node-a/pvc-9", VolumePath = "/" }, deadline: Deadline);
        var bytes = stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Bytes);
        var inodes = stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Inodes);
        Assert.True(bytes.Total > 0 && bytes.Available > 0 && bytes.Used > 0 && bytes.Available <= bytes.Total);
        Assert.True(inodes.Total >= inodes.Used && inodes.Used > 0);
    }

    [Fact]
    public async Task Staging_checks_the_target_first_and_refuses_a_wrong_namespace_or_a_silent_target_before_connecting()
    {
        await using var controller = await StartAsync(["node-a"]);
        await using var plugin = await NodePlugin.StartAsync();
        var volume = await plugin.PublishedVolumeAsync(controller, "pvc-staged");
        string staging = Path.Combine(plugin.Folder, "staging");
        NodeStageVolumeRequest Stage(Action<IDictionary<string, string>> change) => NodePlugin.Stage(volume, staging, change);

        // The namespace the target serves is not the one the volume context promises: refused, nothing connected.
        var wrong = Stage(c => c["novastor.io/nguid"] = "00112233445566778899aabbccddeeff");
        await RefusedAsync(StatusCode.FailedPrecondition, "refusing to attach", () => plugin.Node.NodeStageVolumeAsync(wrong, deadline: Deadline).ResponseAsync);

        // A target that does not answer on any path.
        var silent = Stage(c => c["novastor.io/paths"] = $"127.0.0.1:{Target.Tests.RunningTarget.FreePort()}");
        await RefusedAsync(StatusCode.Unavailable, "answered", () => plugin.Node.NodeStageVolumeAsync(silent, deadline: Deadline).ResponseAsync);

        // A context that cannot tell the device from another, or an ID that is not ours.
        var anonymous = Stage(c =>
        {
            c.Remove("novastor.io/nguid");
            c.Remove("novastor.io/uuid");
        });
        await RefusedAsync(StatusCode.InvalidArgument, "could not be told", () => plugin.Node.NodeStageVolumeAsync(anonymous, deadline: Deadline).ResponseAsync);
        var foreign = Stage(_ => { });
        foreign.VolumeId = "not-ours";
        await RefusedAsync(StatusCode.NotFound, "not a volume of this driver", () => plugin.Node.NodeStageVolumeAsync(foreign, deadline: Deadline).ResponseAsync);

        Assert.False(Directory.Exists(staging));
    }

    [Theory]
    [InlineData("--Csi:Mode=node", "Csi:Node:Name is required")]
    [InlineData("--Csi:Mode=both", "'controller' or 'node'")]
    [InlineData("--Csi:Mode=node --Csi:Node:Name=n --Csi:Node:AttachMode=spdk", "'kernel' (the kernel's NVMe/TCP host) or 'managed'")]
    [InlineData("--Csi:Mode=node --Csi:Node:Name=n --Csi:Node:ManagedQueues=0", "ManagedQueues (0) must be 1..64")]
    [InlineData("--Csi:Mode=node --Csi:Node:Name=n --Csi:Node:ManagedPollMicroseconds=-1", "ManagedPollMicroseconds (-1) must be 0..10000")]
    public void A_node_plugin_configuration_that_cannot_work_stops_it(string arguments, string words)
    {
        string folder = Directory.CreateTempSubdirectory("novastor-csi-node-config-").FullName;
        try
        {
            var failure = Assert.Throws<InvalidOperationException>(() => CsiHost.Build([$"--Csi:Endpoint=unix://{folder}/csi.sock", .. arguments.Split(' ')]));
            Assert.Contains(words, failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
