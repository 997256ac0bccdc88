using Grpc.Core;
using NovaStor.Csi.V1;
using Xunit;
using static NovaStor.Csi.Tests.CsiDriver;

namespace NovaStor.Csi.Tests.Node;

/// <summary>
/// Attach mode <c>managed</c> where the build machine allows it (its kernel has no ublk driver; the
/// device itself is served in the QEMU guest, tests/conformance/Csi): the choice between the
/// StorageClass's mode and the node's default, readiness, the managed initiator's checks before any
/// device is made, and records an earlier plugin left.
/// </summary>
public sealed class ManagedAttachTests
{
    [Fact]
    public async Task Managed_staging_needs_the_ublk_driver_and_checks_the_namespace_before_it_makes_a_device()
    {
        await using var controller = await StartAsync(["node-a"]);
        await using var plugin = await NodePlugin.StartAsync("worker-1", "--Csi:Node:AttachMode=managed");
        var volume = await plugin.PublishedVolumeAsync(controller, "pvc-managed");
        string staging = Path.Combine(plugin.Folder, "staging");
        NodeStageVolumeRequest Stage(Action<IDictionary<string, string>> change) => NodePlugin.Stage(volume, staging, change);

        // A node whose default is managed is ready when the ublk driver is, whatever nvme-fabrics says.
        Assert.False((await plugin.Identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready);
        await RefusedAsync(StatusCode.FailedPrecondition, "modprobe ublk_drv", () => plugin.Node.NodeStageVolumeAsync(Stage(_ => { }), deadline: Deadline).ResponseAsync);
        await File.WriteAllTextAsync(Path.Combine(plugin.Dev, "ublk-control"), "");
        Assert.True((await plugin.Identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready);

        // The managed initiator connects and reads namespace 1's NGUID before a device is made.
        var wrong = Stage(c => c["novastor.io/nguid"] = "00112233445566778899aabbccddeeff");
        await RefusedAsync(StatusCode.FailedPrecondition, "refusing to attach", () => plugin.Node.NodeStageVolumeAsync(wrong, deadline: Deadline).ResponseAsync);
        var silent = Stage(c => c["novastor.io/paths"] = $"127.0.0.1:{Target.Tests.RunningTarget.FreePort()}");
        await RefusedAsync(StatusCode.Unavailable, "could be connected by the managed initiator", () => plugin.Node.NodeStageVolumeAsync(silent, deadline: Deadline).ResponseAsync);

        // The StorageClass's choice wins over the node's default: kernel mode checks with its own words.
        var kernel = Stage(c =>
        {
            c["novastor.io/attach"] = "kernel";
            c["novastor.io/paths"] = $"127.0.0.1:{Target.Tests.RunningTarget.FreePort()}";
        });
        await RefusedAsync(StatusCode.Unavailable, "answered", () => plugin.Node.NodeStageVolumeAsync(kernel, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "attach mode 'spdk'", () => plugin.Node.NodeStageVolumeAsync(Stage(c => c["novastor.io/attach"] = "spdk"), deadline: Deadline).ResponseAsync);

        // The right namespace, but this machine's kernel refuses (no /dev/ublk-control of its own):
        // the driver's words come back, the controller is let go, nothing is noted or mounted.
        if (!File.Exists("/dev/ublk-control"))
        {
            await RefusedAsync(StatusCode.FailedPrecondition, "ublk", () => plugin.Node.NodeStageVolumeAsync(Stage(_ => { }), deadline: Deadline).ResponseAsync);
        }

        Assert.False(Directory.Exists(plugin.ManagedState) && Directory.EnumerateFileSystemEntries(plugin.ManagedState).Any(), "a refused stage left a record");
        Assert.False(Directory.Exists(staging));

        // Unstaging what was never staged is OK in either mode.
        await plugin.Node.NodeUnstageVolumeAsync(new NodeUnstageVolumeRequest { VolumeId = volume.VolumeId, StagingTargetPath = staging }, deadline: Deadline);
    }

    [Fact]
    public async Task A_plugin_that_finds_records_it_cannot_take_back_keeps_serving_and_unstage_forgets_them()
    {
        string folder = Directory.CreateTempSubdirectory("novastor-csi-node-").FullName;
        string state = Path.Combine(folder, "managed");
        Directory.CreateDirectory(state);
        // One record an earlier plugin wrote (its file name is the volume ID's hex), and one torn file.
        string name = Convert.ToHexStringLower("node-a/pvc-left"u8);
        await File.WriteAllTextAsync(Path.Combine(state, name + ".json"),
            """{"volumeId":"node-a/pvc-left","nqn":"nqn.2026-12.io.novastor:csi:pvc-left","nguid":null,"paths":["127.0.0.1:1"],"deviceId":7}""");
        await File.WriteAllTextAsync(Path.Combine(state, "74726f6e.json"), """{"volumeId":""");

        // No ublk driver on this node: the records cannot be taken back; the plugin serves anyway.
        await using var plugin = await NodePlugin.StartOnAsync(folder, "worker-1");
        var info = await plugin.Node.NodeGetInfoAsync(new NodeGetInfoRequest(), deadline: Deadline);
        Assert.Equal(plugin.HostNqn, info.NodeId);
        Assert.True(File.Exists(Path.Combine(state, name + ".json")), "a record the plugin could not act on was lost");

        await plugin.Node.NodeUnstageVolumeAsync(new NodeUnstageVolumeRequest { VolumeId = "node-a/pvc-left", StagingTargetPath = Path.Combine(folder, "staging") }, deadline: Deadline);
        Assert.False(File.Exists(Path.Combine(state, name + ".json")), "unstage did not forget the volume");
        Assert.True(File.Exists(Path.Combine(state, "74726f6e.json")), "a torn record is left for a person to look at");
    }
}
