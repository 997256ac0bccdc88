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
/// Attach mode <c>managed</c> through the node plugin in the guest (Linux 6.12, ublk_drv), driven
/// as the kubelet drives it: the plugin serves each volume as /dev/ublkbN with the managed
/// initiator (both paths, no kernel NVMe controller at all), survives a crash under writes and an
/// upgrade-style restart by taking its devices back, unstages cleanly, stages again with the data
/// intact, grows offline, and serves a block volume that fio verifies.
/// </summary>
internal sealed class CsiManagedSteps(CsiDriver driver, Identity.IdentityClient identity, NodeClient node, GuestShell shell, ITestOutputHelper output)
{
    private const string Records = "/var/lib/kubelet/plugins/novastor.csi.io/managed";

    /// <summary>The plugin's Csi:Node:CtrlLossTimeoutSeconds in this scenario.</summary>
    public const int LossTimeoutSeconds = 20;

    private string _nodeId = "";

    public async Task RunAsync()
    {
        _nodeId = (await node.NodeGetInfoAsync(new NodeGetInfoRequest(), deadline: Deadline)).NodeId;
        Assert.True((await identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready, "a node plugin whose default is managed is not ready with ublk_drv loaded");

        // The StorageClass says managed here; the block volume below has no attachMode and takes the node's default (managed too).
        var volume = await CreateAndPublishAsync("managed-fs", 64 << 20, Capabilities.Mount("ext4"), attachMode: "managed");
        Assert.Equal("managed", volume.VolumeContext["novastor.io/attach"]);
        string staging = StagingOf(volume), pod = $"{Pods}/pod-1/volumes/kubernetes.io~csi/{Name(volume)}/mount";
        string device = await StageServesAUblkDeviceWithoutTheKernelHostAsync(volume, staging, pod);
        await ACrashUnderWritesLosesNothingAsync(volume, staging, device);
        await AnUpgradeRestartKeepsServingAsync(volume, staging, pod, device);
        await UnpublishAndUnstageAsync(volume, pod, staging);
        await GrowsWhenStagedAgainWithTheFilesIntactAsync(volume, staging);
        await BlockVolumeKeepsItsDataAsync();
        await ADeviceWhoseTargetIsGoneFailsItsIoAfterTheLossTimeoutAsync();

        await UnpublishFromNodeAndDeleteAsync(driver, volume, _nodeId);
        await shell.RequireAsync("no ublk device, no record, no NVMe controller and no volume mount is left", $"""
            for d in /dev/ublkb* /sys/class/nvme/nvme*; do if [ -e "$d" ]; then echo "left: $d"; exit 1; fi; done
            if [ -n "$(ls {Records} 2>/dev/null)" ]; then echo "records left: $(ls {Records})"; exit 1; fi
            ! grep /var/lib/kubelet /proc/mounts
            """);
    }

    private async Task<Volume> CreateAndPublishAsync(string name, long bytes, VolumeCapability capability, string? attachMode = null)
    {
        var request = Capabilities.Create(name, bytes, capability);
        if (attachMode is not null)
        {
            request.Parameters["attachMode"] = attachMode;
        }

        var volume = (await driver.Controller.CreateVolumeAsync(request, deadline: Deadline)).Volume;
        await driver.Controller.ControllerPublishVolumeAsync(new ControllerPublishVolumeRequest
        {
            VolumeId = volume.VolumeId,
            NodeId = _nodeId,
            VolumeCapability = capability,
            VolumeContext = { volume.VolumeContext },
        }, deadline: Deadline);
        return volume;
    }

    /// <summary>
    /// Stage (twice: OK) mounts ext4 on /dev/ublkbN, and the kernel's NVMe host has no controller:
    /// the managed initiator is the only way to the target. The record is there; publish; files.
    /// </summary>
    private async Task<string> StageServesAUblkDeviceWithoutTheKernelHostAsync(Volume volume, string staging, string pod)
    {
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        string device = (await shell.RequireAsync("the staging path is ext4 on a ublk device, with no kernel NVMe controller and a record", $"""
            d=$(grep " {staging} ext4 rw" /proc/mounts | cut -d' ' -f1)
            case "$d" in /dev/ublkb*) ;; *) echo "staged from '$d', not a ublk device" >&2; exit 1 ;; esac
            for c in /sys/class/nvme/nvme*; do if [ -e "$c" ]; then echo "a kernel NVMe controller: $c" >&2; exit 1; fi; done
            if [ "$(ls {Records} | wc -l)" != 1 ]; then echo "records: $(ls {Records})" >&2; exit 1; fi
            echo "$(ls /sys/block/$(basename $d)/mq | wc -l) hardware queues, $(cat /sys/block/$(basename $d)/size) sectors, write cache: $(cat /sys/block/$(basename $d)/queue/write_cache)" >&2
            echo "$d"
            """)).Trim().Split('\n')[^1];
        output.WriteLine($"managed device: {device}");

        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: false), deadline: Deadline);
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: false), deadline: Deadline);
        await shell.RequireAsync("the pod's path is the volume's ext4, written and checksummed", $"""
            grep " {pod} ext4 rw" /proc/mounts
            mkdir {pod}/data
            i=1
            while [ $i -le 6 ]; do dd if=/dev/urandom of={pod}/data/file$i bs=64k count=$((i * 4)) 2>/dev/null; i=$((i + 1)); done
            sync
            cd {pod}/data && sha256sum file* >/tmp/managed.sums
            """);
        return device;
    }

    /// <summary>
    /// The plugin is killed (SIGKILL) while writes with fsync run on the staged file system: the
    /// device stays with its I/O waiting, the restarted plugin takes it back on its own (no call
    /// from the kubelet needed), the writes finish, and every byte is there after the caches are dropped.
    /// </summary>
    private async Task ACrashUnderWritesLosesNothingAsync(Volume volume, string staging, string device)
    {
        var clock = Stopwatch.StartNew();
        var writes = shell.RequireAsync("writes across the plugin's crash finish", $"""
            mkdir -p {staging}/during
            cd {staging}/during
            i=0
            while [ $i -lt 24 ]; do dd if=/dev/urandom of=file$i bs=64k count=16 conv=fsync 2>/dev/null; i=$((i + 1)); sleep 0.25; done
            sha256sum file* >/tmp/during.sums
            """, limitSeconds: 240);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(writes.IsCompleted, "the writes finished before the plugin was killed; the step proves nothing");
        await shell.RequireAsync("the node plugin is killed and started again", "/tmp/restart-plugin.sh KILL");
        var restarted = clock.Elapsed;
        await WaitReadyAsync(identity, TimeSpan.FromSeconds(60));
        await writes;
        output.WriteLine($"plugin killed and started at {restarted.TotalSeconds:0.0} s; the writes finished at {clock.Elapsed.TotalSeconds:0.0} s");
        await shell.RequireAsync("the restarted plugin took the same device back, and every byte is there", $"""
            grep "taken back from an earlier plugin" /tmp/csi.log
            grep -q "^{device} {staging} ext4 rw" /proc/mounts
            sync
            echo 3 >/proc/sys/vm/drop_caches
            cd {staging}/during && sha256sum -c /tmp/during.sums
            cd {staging}/data && sha256sum -c /tmp/managed.sums
            """);

        // The kubelet's calls after a plugin restart: stage again is OK (the same device, served).
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
    }

    /// <summary>Stopped (SIGTERM, as an upgrade does) and started: stage and publish are OK again, and the device takes writes.</summary>
    private async Task AnUpgradeRestartKeepsServingAsync(Volume volume, string staging, string pod, string device)
    {
        await shell.RequireAsync("the node plugin stops and starts again", "/tmp/restart-plugin.sh");
        await WaitReadyAsync(identity, TimeSpan.FromSeconds(60));
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: false), deadline: Deadline);
        await shell.RequireAsync("after the restart the same device serves reads and writes", $"""
            [ "$(grep -c "taken back from an earlier plugin" /tmp/csi.log)" = 2 ]
            grep -q "^{device} {staging} ext4 rw" /proc/mounts
            dd if=/dev/urandom of={pod}/data/after-upgrade bs=64k count=8 conv=fsync 2>/dev/null
            cd {pod}/data && sha256sum -c /tmp/managed.sums && sha256sum after-upgrade >/tmp/after.sum
            """, limitSeconds: 180);
    }

    /// <summary>
    /// Growth: a ublk device keeps its size while attached, so node expansion of the staged volume is
    /// refused with what to do; unstaged and staged again, the device has the new size and node
    /// expansion grows ext4; the files are intact, read-only publish refuses writes.
    /// </summary>
    private async Task GrowsWhenStagedAgainWithTheFilesIntactAsync(Volume volume, string staging)
    {
        const long Grown = 128L << 20;
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        var expanded = await driver.Controller.ControllerExpandVolumeAsync(new ControllerExpandVolumeRequest
        {
            VolumeId = volume.VolumeId,
            CapacityRange = new CapacityRange { RequiredBytes = Grown },
        }, deadline: Deadline);
        Assert.True(expanded.NodeExpansionRequired);
        var expand = new NodeExpandVolumeRequest { VolumeId = volume.VolumeId, VolumePath = staging, CapacityRange = new CapacityRange { RequiredBytes = Grown } };
        await CsiDriver.RefusedAsync(StatusCode.FailedPrecondition, "staged again", () => node.NodeExpandVolumeAsync(expand, deadline: Deadline).ResponseAsync);

        await node.NodeUnstageVolumeAsync(new NodeUnstageVolumeRequest { VolumeId = volume.VolumeId, StagingTargetPath = staging }, deadline: Deadline);
        await node.NodeStageVolumeAsync(Stage(volume, staging), deadline: Deadline);
        Assert.Equal(Grown, (await node.NodeExpandVolumeAsync(expand, deadline: Deadline)).CapacityBytes);
        string pod = $"{Pods}/pod-2/volumes/kubernetes.io~csi/{Name(volume)}/mount";
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: true), deadline: Deadline);
        long total = (await node.NodeGetVolumeStatsAsync(new NodeGetVolumeStatsRequest { VolumeId = volume.VolumeId, VolumePath = pod }, deadline: Deadline))
            .Usage.Single(u => u.Unit == VolumeUsage.Types.Unit.Bytes).Total;
        Assert.True(total > 100L << 20, $"ext4 did not grow: {total} bytes");
        await shell.RequireAsync("grown, staged again: the files are intact and the read-only publish refuses writes", $"""
            grep " {pod} ext4 ro" /proc/mounts
            cd {pod}/data && sha256sum -c /tmp/managed.sums && sha256sum -c /tmp/after.sum
            cd {staging}/during && sha256sum -c /tmp/during.sums
            if touch {pod}/data/new 2>/dev/null; then echo "a read-only publish took a write"; exit 1; fi
            """);
        await UnpublishAndUnstageAsync(volume, pod, staging);
    }

    /// <summary>volumeMode Block, attach mode from the node's default: the ublk device at the pod's path; fio verifies through it.</summary>
    private async Task BlockVolumeKeepsItsDataAsync()
    {
        var capability = Capabilities.Block();
        var volume = await CreateAndPublishAsync("managed-block", 32 << 20, capability);
        Assert.False(volume.VolumeContext.ContainsKey("novastor.io/attach"));
        var (staging, pod) = BlockPaths(volume, "pod-4");
        await node.NodeStageVolumeAsync(Stage(volume, staging, capability), deadline: Deadline);
        await node.NodeStageVolumeAsync(Stage(volume, staging, capability), deadline: Deadline);
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: false, capability), deadline: Deadline);
        await shell.RequireAsync("the pod's path is a ublk device, and fio verifies through it", $"""
            [ -b {pod} ]
            ls -l /dev/ublkb* {pod}
            found=
            for d in /dev/ublkb*; do if [ "$(stat -c %t:%T $d)" = "$(stat -c %t:%T {pod})" ]; then found=$d; fi; done
            [ -n "$found" ]
            fio --name=verify --filename={pod} --direct=1 --ioengine=libaio --rw=randwrite --bssplit=4k/50:64k/50 \
                --iodepth=16 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1
            """, limitSeconds: 300);
        var stats = await node.NodeGetVolumeStatsAsync(new NodeGetVolumeStatsRequest { VolumeId = volume.VolumeId, VolumePath = pod }, deadline: Deadline);
        Assert.Equal(32L << 20, stats.Usage.Single().Total);
        await UnpublishAndUnstageAsync(volume, pod, staging);
        await UnpublishFromNodeAndDeleteAsync(driver, volume, _nodeId);
    }

    /// <summary>
    /// The target is gone and the plugin dies: the restarted plugin cannot take the device back, and
    /// once the loss timeout has passed it removes the device, so a read that waited fails with EIO
    /// instead of hanging. With the target back, unpublish and unstage are clean.
    /// </summary>
    private async Task ADeviceWhoseTargetIsGoneFailsItsIoAfterTheLossTimeoutAsync()
    {
        var capability = Capabilities.Block();
        var volume = await CreateAndPublishAsync("managed-lost", 16 << 20, capability);
        var (staging, pod) = BlockPaths(volume, "pod-5");
        await node.NodeStageVolumeAsync(Stage(volume, staging, capability), deadline: Deadline);
        await node.NodePublishVolumeAsync(Publish(volume, staging, pod, readOnly: false, capability), deadline: Deadline);

        var storage = driver.Nodes.Single();
        await storage.Target.StopAsync();
        var clock = Stopwatch.StartNew();
        await shell.RequireAsync("with the target gone, the plugin is killed and started again", "/tmp/restart-plugin.sh KILL");
        string read = await shell.RequireAsync("a read waits, then fails with EIO once the device is given up on", $"""
            for i in 1 2 3 4; do echo "NOVASTOR-EXPECT-KERNEL: I/O error, dev ublkb" >/dev/kmsg; done
            start=$(date +%s)
            set +e
            timeout 150 dd if={pod} of=/dev/null bs=4096 count=1 skip=100 iflag=direct 2>/tmp/lost.err
            rc=$?
            set -e
            echo "dd exit $rc after $(($(date +%s) - start)) s: $(cat /tmp/lost.err)"
            if [ $rc -eq 124 ]; then echo "the read hung"; exit 1; fi
            if [ $rc -eq 0 ]; then echo "a read succeeded with the target gone"; exit 1; fi
            grep -q "Input/output error" /tmp/lost.err
            grep "could not be taken back within the loss timeout; removed (removed)" /tmp/csi.log
            """, limitSeconds: 200);
        output.WriteLine($"target gone and plugin killed at 0 s; the waiting read failed at {clock.Elapsed.TotalSeconds:0.0} s (loss timeout {LossTimeoutSeconds} s): {read.Trim()}");

        await storage.Target.StartAgainAsync(storage.ListenerArguments);
        await WaitReadyAsync(identity, TimeSpan.FromSeconds(60));
        await UnpublishAndUnstageAsync(volume, pod, staging);
        await UnpublishFromNodeAndDeleteAsync(driver, volume, _nodeId);
    }

    /// <summary>Unpublish and unstage, each twice: the device is gone (stopped and deleted), and its record with it.</summary>
    private async Task UnpublishAndUnstageAsync(Volume volume, string pod, string staging)
    {
        await UnpublishAndUnstageTwiceAsync(node, volume, pod, staging);
        await shell.RequireAsync($"after unpublish and unstage of {Name(volume)} no device, record or mount of it is left", $"""
            [ ! -e {pod} ]
            ! grep -e " {pod} " -e " {staging} " /proc/mounts
            for d in /dev/ublkb*; do if [ -e "$d" ]; then echo "left: $d"; exit 1; fi; done
            if [ -n "$(ls {Records} 2>/dev/null)" ]; then echo "records left: $(ls {Records})"; exit 1; fi
            """);
    }
}
