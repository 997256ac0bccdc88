namespace NovaStor.Csi.Controller;

/// <summary>
/// Finding the storage nodes through the Kubernetes API (<c>Csi:Kubernetes:*</c>): the data-plane
/// pods (deploy/daemonset.yaml) that are running and ready, each one a storage node named after its
/// Kubernetes node, reached at the node's address (the data plane uses the host's network).
/// </summary>
public sealed class KubernetesDiscoveryOptions
{
    /// <summary>Find the nodes (instead of <see cref="CsiOptions.StorageNodes"/>).</summary>
    public bool Enabled { get; set; }

    /// <summary>The data plane's namespace.</summary>
    public string Namespace { get; set; } = "novastor";

    /// <summary>The data-plane pods' labels.</summary>
    public string LabelSelector { get; set; } = "app.kubernetes.io/name=novastor,app.kubernetes.io/component=data-plane";

    /// <summary>The targets' control-plane port (NovaStor:ControlPlane:Port).</summary>
    public int ControlPlanePort { get; set; } = 9500;

    /// <summary>The targets' NVMe/TCP port (NovaStor:Port), what hosts dial.</summary>
    public int NvmePort { get; set; } = 4420;

    /// <summary>How often the list is read again (a node added, gone, or not ready).</summary>
    public int RefreshSeconds { get; set; } = 15;

    /// <summary>A kubeconfig file (outside a cluster, tests); empty: the pod's service account (in-cluster).</summary>
    public string KubeConfig { get; set; } = "";
}
