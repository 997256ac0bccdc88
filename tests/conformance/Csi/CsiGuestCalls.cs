using Grpc.Core;
using NovaStor.Csi.Tests;
using NovaStor.Csi.V1;
using Xunit;
using NodeClient = NovaStor.Csi.V1.Node.NodeClient;

namespace NovaStor.Conformance.Csi;

/// <summary>The kubelet's calls and paths, as the guest steps (<see cref="CsiNodeSteps"/>, <see cref="CsiManagedSteps"/>) make them.</summary>
internal static class CsiGuestCalls
{
    public const string Plugins = "/var/lib/kubelet/plugins/kubernetes.io/csi";
    public const string Pods = "/var/lib/kubelet/pods";

    /// <summary>The guest's CPU is emulated: mkfs, fio and a reconnect take many times longer than on hardware.</summary>
    public static DateTime Deadline => DateTime.UtcNow.AddSeconds(120);

    public static string Name(Volume volume) => volume.VolumeId[(volume.VolumeId.IndexOf('/', StringComparison.Ordinal) + 1)..];

    public static string StagingOf(Volume volume) => $"{Plugins}/pv-{Name(volume)}/globalmount";

    /// <summary>Where the kubelet stages a volumeMode Block volume, and where it publishes it for the pod <paramref name="podDirectory"/>.</summary>
    public static (string Staging, string Pod) BlockPaths(Volume volume, string podDirectory) =>
        ($"{Plugins}/volumeDevices/staging/{Name(volume)}", $"{Pods}/{podDirectory}/volumeDevices/kubernetes.io~csi/{Name(volume)}");

    /// <param name="capability">The volume's capability; null: the file system its name says (<see cref="CapabilityOf"/>).</param>
    public static NodeStageVolumeRequest Stage(Volume volume, string staging, VolumeCapability? capability = null) => new()
    {
        VolumeId = volume.VolumeId,
        StagingTargetPath = staging,
        VolumeCapability = capability ?? CapabilityOf(volume),
        VolumeContext = { volume.VolumeContext },
    };

    /// <param name="capability">The volume's capability; null: the file system its name says (<see cref="CapabilityOf"/>).</param>
    public static NodePublishVolumeRequest Publish(Volume volume, string staging, string pod, bool readOnly, VolumeCapability? capability = null) => new()
    {
        VolumeId = volume.VolumeId,
        StagingTargetPath = staging,
        TargetPath = pod,
        Readonly = readOnly,
        VolumeCapability = capability ?? CapabilityOf(volume),
        VolumeContext = { volume.VolumeContext },
    };

    /// <summary>What the external attacher and provisioner do last: unpublish the volume from the node, then delete it.</summary>
    public static async Task UnpublishFromNodeAndDeleteAsync(CsiDriver driver, Volume volume, string nodeId)
    {
        await driver.Controller.ControllerUnpublishVolumeAsync(new ControllerUnpublishVolumeRequest { VolumeId = volume.VolumeId, NodeId = nodeId }, deadline: Deadline);
        await driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline);
    }

    /// <summary>The filesystem volumes here are named after their filesystem (a name ending in xfs: xfs; any other: ext4).</summary>
    public static VolumeCapability CapabilityOf(Volume volume) => Capabilities.Mount(Name(volume).EndsWith("xfs", StringComparison.Ordinal) ? "xfs" : "ext4");

    /// <summary>After the plugin was restarted in the guest: waits until Probe says ready (the channel dials the new process).</summary>
    public static async Task WaitReadyAsync(Identity.IdentityClient identity, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (true)
        {
            try
            {
                if ((await identity.ProbeAsync(new ProbeRequest(), deadline: DateTime.UtcNow.AddSeconds(10))).Ready is true)
                {
                    return;
                }
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.DeadlineExceeded && DateTime.UtcNow < until)
            {
                // The connection to the old process broke; the channel dials the new one.
            }

            Assert.True(DateTime.UtcNow < until, $"the restarted plugin was not ready within {limit.TotalSeconds:0} s");
            await Task.Delay(250);
        }
    }

    /// <summary>Unpublish and unstage, each twice (the second must be OK too).</summary>
    public static async Task UnpublishAndUnstageTwiceAsync(NodeClient node, Volume volume, string pod, string staging)
    {
        var unpublish = new NodeUnpublishVolumeRequest { VolumeId = volume.VolumeId, TargetPath = pod };
        await node.NodeUnpublishVolumeAsync(unpublish, deadline: Deadline);
        await node.NodeUnpublishVolumeAsync(unpublish, deadline: Deadline);
        var unstage = new NodeUnstageVolumeRequest { VolumeId = volume.VolumeId, StagingTargetPath = staging };
        await node.NodeUnstageVolumeAsync(unstage, deadline: Deadline);
        await node.NodeUnstageVolumeAsync(unstage, deadline: Deadline);
    }
}
