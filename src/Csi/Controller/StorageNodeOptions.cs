namespace NovaStor.Csi.Controller;

/// <summary>
/// One storage node the controller provisions on: a NovaStor target's control plane, reached over
/// mutual TLS (<c>Csi:StorageNodes:N</c>).
/// </summary>
public sealed class StorageNodeOptions
{
    /// <summary>The node's name: its topology value (<c>novastor.io/node</c>) and the first part of its volumes' IDs. A Kubernetes node name.</summary>
    public string Name { get; set; } = "";

    /// <summary>The control plane's address, https://host:port.</summary>
    public string ControlPlane { get; set; } = "";

    /// <summary>
    /// A folder with client.pem, client-key.pem and ca.pem (as <c>novastor certs create</c> writes
    /// them) for this node; empty: <see cref="CsiOptions.ControlPlaneCertificates"/>.
    /// </summary>
    public string Certificates { get; set; } = "";

    /// <summary>
    /// Where hosts reach the node's NVMe/TCP listeners ("address:port", one per path); empty: the
    /// listeners the node reports, a wildcard one replaced by the control plane's host.
    /// </summary>
    public List<string> NvmeAddresses { get; set; } = [];
}
