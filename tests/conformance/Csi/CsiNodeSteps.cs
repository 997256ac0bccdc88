using System.Diagnostics;
using Grpc.Core;
using NovaStor.Csi.Tests;
using NovaStor.Csi.V1;
using Xunit;
using Xunit.Abstractions;
using static NovaStor.Conformance.Csi.CsiGuestCalls;
using NodeClient = NovaStor.Csi.V1.Node.NodeClient;

namespace NovaStor.Conformance.Csi;

/// <summary>
/// What the kubelet and the CSI sidecars do with a node plugin, in order, against the plugin in the
/// guest (the Linux NVMe/TCP host) and the controller here: each step calls the plugin as Kubernetes
/// would and then looks in the guest (mounts, files, devices, controllers) through its shell.
/// </summary>
internal sealed class CsiNodeSteps(
    CsiDriver driver, Identity.IdentityClient identity, NodeClient node, Identity.IdentityClient hungIdentity, NodeClient hungNode, GuestShell shell, ITestOutputHelper output)
{
    private string _nodeId = "";

    public async Task RunAsync(string nodeName)
    {
        await NodeIdentityAsync(nodeName);
        var ext4 = await CreateAndPublishAsync("guest-fs", 64 << 20, Capabilities.Mount("ext4"));
        var xfs = await CreateAndPublishAsync("guest-xfs", 320 << 20, Capabilities.Mount("xfs"));
        await WrongNguidIsRefusedBeforeAnyConnectAsync(ext4);
        string pod = await FilesSurviveUnstageAndStageAgainAsync(ext4, xfs);
        await ExtFileSystemGrowsOnlineAsync(ext4, pod);
        await IoResumesAfterATargetRestartAsync(ext4, pod);
        await APluginRestartKeepsWhatItStagedAsync(ext4, pod);
        await UnpublishAndUnstageAsync(ext4, pod, StagingOf(ext4));
        await AFormattedVolumeIsNeverFormattedOverAsync(ext4);
        await XfsStagesAndGrowsAsync(xfs);
        await BlockVolumeKeepsItsDataAsync();
        await HungNvmeTimesOutAsync(ext4);

        foreach (var volume in new[] { ext4, xfs })
        {
            await UnpublishFromNodeAndDeleteAsync(driver, volume, _nodeId);
        }

        await shell.RequireAsync("no NVMe controller and no volume mount is left", """
            for c in /sys/class/nvme/nvme*; do [ -e "$c" ] && { echo "left: $c $(cat $c/subsysnqn)"; exit 1; }; done
            ! grep /var/lib/kubelet /proc/mounts
            """);
    }

    /// <summary>NodeGetInfo: the node ID is the host NQN in the node's /etc/nvme (what the controller admits), with the topology key.</summary>
    private async Task NodeIdentityAsync(string nodeName)
    {
        var info = await node.NodeGetInfoAsync(new NodeGetInfoRequest(), deadline: Deadline);
        string hostNqn = (await shell.RequireAsync("read the host NQN", "cat /etc/nvme/hostnqn")).Trim();
        Assert.Equal(hostNqn, info.NodeId);
        Assert.Equal(nodeName, info.AccessibleTopology.Segments["novastor.io/node"]);
        _nodeId = info.NodeId;
        Assert.True((await identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready, "the node plugin is not ready although nvme-cli and nvme-fabrics are there");
    }

    private async Task<Volume> CreateAndPublishAsync(string name, long bytes, VolumeCapability capability)
    {
        var volume = (await driver.Controller.CreateVolumeAsync(Capabilities.Create(name, bytes, capability), deadline: Deadline)).Volume;
        await driver.Controller.ControllerPublishVolumeAsync(new ControllerPublishVolumeRequest
        {
            VolumeId = volume.VolumeId,
            NodeId = _nodeId,
            VolumeCapability = capability,
            VolumeContext = { volume.VolumeContext },
        }, deadline: Deadline);
        return volume;
    }

    /// <summary>A volume context naming another namespace (NGUID) is refused by the managed initiator's check: the kernel never connects.</summary>
    private async Task WrongNguidIsRefusedBeforeAnyConnectAsync(Volume volume)
    {
        var wrong = Stage(volume, $"{Plugins}/pv-wrong/globalmount");
        string nguid = volume.VolumeContext["novastor.io/nguid"];
        wrong.VolumeContext["novastor.io/nguid"] = (nguid[0] == 'f' ? "0" : "f") + nguid[1..];
        await RefusedAsync(StatusCode.FailedPrecondition, "NGUID", () => node.NodeStageVolumeAsync(wrong, deadline: Deadline).ResponseAsync);
        await shell.RequireAsync("no controller was connected for the refused volume", """
            for c in /sys/class/nvme/nvme*; do [ -e "$c" ] && { echo "connected: $c $(cat $c/subsysnqn)"; exit 1; }; done
            ! grep pv-wrong /proc/mounts
            """);
    }

    /// <summary>
    /// Stage (mkfs on the blank device, mount), stage again (OK), publish, write files; unpublish,
    /// unstage (controllers gone); stage again and publish read-only: the files are intact, and writing
    /// is refused. Another volume at the same staging path is ALREADY_EXISTS. Returns the read-only pod path.
    /// </summary>
    private async Task<string> FilesSurviveUnstageAndStageAgainAsync(Volume volume, Volume other)
    {
        string staging = StagingOf(volume);
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        await RefusedAsync(StatusCode.AlreadyExists, staging, () => node.NodeStageVolumeAsync(Stage(other, staging), deadline: Deadline).ResponseAsync);

        string nqn = volume.VolumeContext["novastor.io/nqn"];
        await shell.RequireAsync("both paths are connected, under one multipath device", $"""
            n=0
            for c in /sys/class/nvme/nvme*; do
              if [ "$(cat $c/subsysnqn)" = "{nqn}" ]; then n=$((n + 1)); echo "$c: $(cat $c/address)"; fi
            done
            if [ $n -ne 2 ]; then echo "$n controllers, not 2"; exit 1; fi
            heads=$(for b in /sys/block/nvme*; do case $(basename $b) in *c*) ;; *) echo $b ;; esac; done)
            echo "$heads"
            if [ "$(echo "$heads" | wc -l)" -ne 1 ]; then echo "not one device"; exit 1; fi
            """);

        string pod = $"{Pods}/pod-1/volumes/kubernetes.io~csi/{Name(volume)}/mount";
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: false), deadline: Deadline);
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: false), deadline: Deadline);
        await shell.RequireAsync("the pod's path is the volume's ext4, written and checksummed", $"""
            grep " {staging} ext4 rw" /proc/mounts
            grep " {pod} ext4 rw" /proc/mounts
            mkdir {pod}/data
            i=1
            while [ $i -le 6 ]; do dd if=/dev/urandom of={pod}/data/file$i bs=64k count=$((i * 4)) 2>/dev/null; i=$((i + 1)); done
            sync
            cd {pod}/data && sha256sum file* >/tmp/ext4.sums
            """);

        var stats = await node.NodeGetVolumeStatsAsync(new NodeGetVolumeStatsRequest { VolumeId = volume.VolumeId, VolumePath = pod }, deadline: Deadline);
        var bytes = stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Bytes);
        var inodes = stats.Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Inodes);
        output.WriteLine($"stats of {pod}: {bytes} {inodes}");
        Assert.InRange(bytes.Total, 40L << 20, 64L << 20);
        Assert.InRange(bytes.Used, 1L << 20, bytes.Total);
        Assert.True(inodes.Total > 1000 && inodes.Used > 10, $"inodes: {inodes}");
        await RefusedAsync(StatusCode.NotFound, "/var/lib/kubelet/pods/none", () =>
            node.NodeGetVolumeStatsAsync(new NodeGetVolumeStatsRequest { VolumeId = volume.VolumeId, VolumePath = $"{Pods}/none" }, deadline: Deadline).ResponseAsync);

        await UnpublishAndUnstageAsync(volume, pod, staging);

        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        string readOnlyPod = $"{Pods}/pod-2/volumes/kubernetes.io~csi/{Name(volume)}/mount";
        await node.NodePublishVolumeAsync(Publish(volume, staging, readOnlyPod, readOnly: true), deadline: Deadline);
        await shell.RequireAsync("after unstage and stage again the files are intact, and the read-only publish refuses writes", $"""
            grep " {readOnlyPod} ext4 ro" /proc/mounts
            cd {readOnlyPod}/data && sha256sum -c /tmp/ext4.sums
            if touch {readOnlyPod}/data/new 2>/dev/null; then echo "a read-only publish took a write"; exit 1; fi
            """);
        return readOnlyPod;
    }

    /// <summary>ControllerExpandVolume grows the namespace; NodeExpandVolume waits for the kernel to see it and runs resize2fs on the mounted filesystem.</summary>
    private async Task ExtFileSystemGrowsOnlineAsync(Volume volume, string pod)
    {
        const long Grown = 128L << 20;
        var expanded = await driver.Controller.ControllerExpandVolumeAsync(new ControllerExpandVolumeRequest
        {
            VolumeId = volume.VolumeId,
            CapacityRange = new CapacityRange { RequiredBytes = Grown },
        }, deadline: Deadline);
        Assert.True(expanded.NodeExpansionRequired);
        Assert.Equal(Grown, expanded.CapacityBytes);
        var grown = await node.NodeExpandVolumeAsync(new NodeExpandVolumeRequest
        {
            VolumeId = volume.VolumeId,
            VolumePath = StagingOf(volume),
            CapacityRange = new CapacityRange { RequiredBytes = Grown },
        }, deadline: Deadline);
        Assert.Equal(Grown, grown.CapacityBytes);
        long total = await TotalBytesAsync(volume, pod);
        Assert.True(total > 100L << 20, $"the filesystem did not grow: {total} bytes");
        await shell.RequireAsync("the grown filesystem is seen in the pod's path and its files are intact", $"""
            df -k {pod}
            cd {pod}/data && sha256sum -c /tmp/ext4.sums
            """);
    }

    /// <summary>
    /// The target stops for a few seconds under writes to the staged filesystem: the kernel host
    /// reconnects (reconnect delay 2 s, loss timeout 120 s, as the plugin connected it) and the
    /// writes finish, their bytes intact.
    /// </summary>
    private async Task IoResumesAfterATargetRestartAsync(Volume volume, string pod)
    {
        string staging = StagingOf(volume);
        var storage = driver.Nodes.Single();
        var target = storage.Target;
        var clock = Stopwatch.StartNew();
        var writes = shell.RequireAsync("writes over a target restart finish", $"""
            mkdir -p {staging}/during
            cd {staging}/during
            i=0
            while [ $i -lt 24 ]; do dd if=/dev/urandom of=file$i bs=64k count=16 conv=fsync 2>/dev/null; i=$((i + 1)); sleep 0.25; done
            sha256sum file* >/tmp/during.sums
            """, limitSeconds: 180);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(writes.IsCompleted, "the writes finished before the target went down; the step proves nothing");
        await target.StopAsync();
        var down = clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(4));
        await target.StartAgainAsync(storage.ListenerArguments);
        var up = clock.Elapsed;
        await writes;
        output.WriteLine($"target down at {down.TotalSeconds:0.0} s, up at {up.TotalSeconds:0.0} s; the writes finished at {clock.Elapsed.TotalSeconds:0.0} s");
        await shell.RequireAsync("after the restart the controller is live and every byte is there, read back from the target", $"""
            for c in /sys/class/nvme/nvme*; do echo "$c: $(cat $c/state) $(cat $c/subsysnqn)"; done
            sync
            echo 3 >/proc/sys/vm/drop_caches
            cd {staging}/during && sha256sum -c /tmp/during.sums
            cd {pod}/data && sha256sum -c /tmp/ext4.sums
            """);
    }

    /// <summary>
    /// The plugin is stopped and started again (a DaemonSet upgrade) while the volume is staged and
    /// published: it keeps no state of its own, so stage and publish again are OK, and the files are there.
    /// </summary>
    private async Task APluginRestartKeepsWhatItStagedAsync(Volume volume, string pod)
    {
        await shell.RequireAsync("the node plugin stops and starts again", "/tmp/restart-plugin.sh");
        await WaitReadyAsync(identity, TimeSpan.FromSeconds(30));

        string staging = StagingOf(volume);
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: true), deadline: Deadline);
        Assert.True(await TotalBytesAsync(volume, pod) > 100L << 20);
        await shell.RequireAsync("after the plugin's restart the files are there", $"cd {pod}/data && sha256sum -c /tmp/ext4.sums");
    }

    /// <summary>The ext4 volume staged asking for xfs: FAILED_PRECONDITION, and the filesystem is still there.</summary>
    private async Task AFormattedVolumeIsNeverFormattedOverAsync(Volume volume)
    {
        string staging = StagingOf(volume);
        var asXfs = Stage(volume, staging);
        asXfs.VolumeCapability = Capabilities.Mount("xfs");
        await RefusedAsync(StatusCode.FailedPrecondition, "holds ext4", () => node.NodeStageVolumeAsync(asXfs, deadline: Deadline).ResponseAsync);
        await node.NodeUnstageVolumeAsync(new NodeUnstageVolumeRequest { VolumeId = volume.VolumeId, StagingTargetPath = staging }, deadline: Deadline);
    }

    /// <summary>An xfs volume: mkfs.xfs at stage, a file, then grown online with xfs_growfs.</summary>
    private async Task XfsStagesAndGrowsAsync(Volume volume)
    {
        const long Grown = 384L << 20;
        string staging = StagingOf(volume);
        string pod = $"{Pods}/pod-3/volumes/kubernetes.io~csi/{Name(volume)}/mount";
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: false), deadline: Deadline);
        await shell.RequireAsync("the xfs volume is mounted and takes a file", $"""
            grep " {pod} xfs rw" /proc/mounts
            dd if=/dev/urandom of={pod}/file bs=64k count=64 2>/dev/null
            sync
            sha256sum {pod}/file >/tmp/xfs.sum
            """);
        long before = await TotalBytesAsync(volume, pod);
        await driver.Controller.ControllerExpandVolumeAsync(new ControllerExpandVolumeRequest
        {
            VolumeId = volume.VolumeId,
            CapacityRange = new CapacityRange { RequiredBytes = Grown },
        }, deadline: Deadline);
        await node.NodeExpandVolumeAsync(new NodeExpandVolumeRequest
        {
            VolumeId = volume.VolumeId,
            VolumePath = pod,
            CapacityRange = new CapacityRange { RequiredBytes = Grown },
        }, deadline: Deadline);
        // xfs counts its internal log out of the total, so the total grows by what the device grew.
        long after = await TotalBytesAsync(volume, pod);
        Assert.True(after - before == 64L << 20, $"xfs did not grow by 64 MiB: {before} bytes before, {after} after");
        await shell.RequireAsync("the grown xfs keeps its file", "sha256sum -c /tmp/xfs.sum");
        await UnpublishAndUnstageAsync(volume, pod, staging);
    }

    /// <summary>volumeMode Block: the device itself at the pod's path; fio writes and verifies through it.</summary>
    private async Task BlockVolumeKeepsItsDataAsync()
    {
        var capability = Capabilities.Block();
        var volume = await CreateAndPublishAsync("guest-block", 32 << 20, capability);
        var (staging, pod) = BlockPaths(volume, "pod-4");
        await node.NodeStageVolumeAsync(Stage(volume, staging, capability), deadline: Deadline);
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: false, capability), deadline: Deadline);
        await shell.RequireAsync("the pod's path is the volume's block device, and fio verifies through it", $"""
            [ -b {pod} ]
            fio --name=verify --filename={pod} --direct=1 --ioengine=libaio --rw=randwrite --bssplit=4k/50:64k/50 \
                --iodepth=16 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1
            """, limitSeconds: 300);
        var stats = await node.NodeGetVolumeStatsAsync(new NodeGetVolumeStatsRequest { VolumeId = volume.VolumeId, VolumePath = pod }, deadline: Deadline);
        Assert.Equal(32L << 20, stats.Usage.Single().Total);
        await UnpublishAndUnstageAsync(volume, pod, staging);
        await UnpublishFromNodeAndDeleteAsync(driver, volume, _nodeId);
    }

    /// <summary>
    /// The second plugin's `nvme` never returns: its command timeout (5 s) kills it and everything it
    /// started, NodeStage says so, Probe says not ready, and the plugin keeps answering.
    /// </summary>
    private async Task HungNvmeTimesOutAsync(Volume volume)
    {
        var clock = Stopwatch.StartNew();
        var refused = await RefusedAsync(StatusCode.Unavailable, "did not finish within 5 s and was killed",
            () => hungNode.NodeStageVolumeAsync(Stage(volume, $"{Plugins}/pv-hung/globalmount"), deadline: Deadline).ResponseAsync);
        output.WriteLine($"hung nvme: refused after {clock.Elapsed.TotalSeconds:0.0} s: {refused.Status.Detail}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the hung nvme took {clock.Elapsed} to be given up on");
        Assert.False((await hungIdentity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready, "Probe said ready with an nvme that never returns");
        Assert.Equal(_nodeId, (await hungNode.NodeGetInfoAsync(new NodeGetInfoRequest(), deadline: Deadline)).NodeId);
        await shell.RequireAsync("the hung nvme and its child were killed, and nothing was connected", """
            if pgrep -f "sleep 3600"; then echo "the hung command's child still runs"; exit 1; fi
            for c in /sys/class/nvme/nvme*; do [ -e "$c" ] && { echo "connected: $c"; exit 1; }; done
            true
            """);
    }

    private async Task<long> TotalBytesAsync(Volume volume, string path) =>
        (await node.NodeGetVolumeStatsAsync(new NodeGetVolumeStatsRequest { VolumeId = volume.VolumeId, VolumePath = path }, deadline: Deadline))
            .Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Bytes).Total;

    private async Task UnpublishAndUnstageAsync(Volume volume, string pod, string staging)
    {
        await UnpublishAndUnstageTwiceAsync(node, volume, pod, staging);
        string nqn = volume.VolumeContext["novastor.io/nqn"];
        await shell.RequireAsync($"after unpublish and unstage of {Name(volume)} nothing of it is left", $"""
            [ ! -e {pod} ]
            ! grep -e " {pod} " -e " {staging} " /proc/mounts
            for c in /sys/class/nvme/nvme*; do
              if [ -e "$c" ] && [ "$(cat $c/subsysnqn)" = "{nqn}" ]; then echo "still connected: $c"; exit 1; fi
            done
            true
            """);
    }

    private static Task<RpcException> RefusedAsync(StatusCode code, string words, Func<Task> call) => CsiDriver.RefusedAsync(code, words, call);
}
