using NovaStor.Csi.Controller;

namespace NovaStor.Csi;

/// <summary>The driver's configuration (<c>Csi:*</c>: appsettings.json, environment variables <c>Csi__*</c>, or the command line).</summary>
public sealed class CsiOptions
{
    /// <summary>The CSI driver name the sidecars and the StorageClass use.</summary>
    public const string DriverName = "novastor.csi.io";

    /// <summary>The topology key of a volume's storage node (and of the node a pod runs on).</summary>
    public const string TopologyKey = "novastor.io/node";

    /// <summary>"controller" (provisioning and publishing, one per cluster) or "node" (staging and publishing, one per node).</summary>
    public string Mode { get; set; } = "controller";

    /// <summary>The node plugin's settings (node mode).</summary>
    public Node.NodePluginOptions Node { get; set; } = new();

    /// <summary>The gRPC endpoint the sidecars dial: unix:///path (the socket is made anew at start).</summary>
    public string Endpoint { get; set; } = "unix:///csi/csi.sock";

    /// <summary>The client credentials for every storage node's control plane (client.pem, client-key.pem, ca.pem).</summary>
    public string ControlPlaneCertificates { get; set; } = "/etc/novastor/control-plane";

    /// <summary>The storage nodes, listed (tests, clusters without the data-plane DaemonSet); or found, see <see cref="Kubernetes"/>.</summary>
    public List<StorageNodeOptions> StorageNodes { get; set; } = [];

    /// <summary>Finding the storage nodes through the Kubernetes API (the data-plane pods).</summary>
    public KubernetesDiscoveryOptions Kubernetes { get; set; } = new();

    /// <summary>Every call to a storage node gives up after this long (UNAVAILABLE / DEADLINE_EXCEEDED back to the sidecar, which retries).</summary>
    public int CallTimeoutSeconds { get; set; } = 30;
}
