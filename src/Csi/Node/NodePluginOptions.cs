namespace NovaStor.Csi.Node;

/// <summary>
/// The node plugin's settings (<c>Csi:Node:*</c>). The NVMe/TCP timeouts are passed to every
/// <c>nvme connect</c> explicitly, never left to the kernel's defaults (ten minutes of hanging I/O
/// after a target is lost).
/// </summary>
public sealed class NodePluginOptions
{
    /// <summary>This node's name: its topology value (<c>novastor.io/node</c>); in Kubernetes the node name from the downward API.</summary>
    public string Name { get; set; } = "";

    /// <summary>Where the node's NVMe host identity lives (hostnqn, hostid), made once if missing.</summary>
    public string NvmeConfigDirectory { get; set; } = "/etc/nvme";

    public string SysfsRoot { get; set; } = "/sys";

    public string DevRoot { get; set; } = "/dev";

    /// <summary>
    /// How long the kernel keeps reconnecting a lost controller before it gives up and fails I/O:
    /// two minutes rides out a target restart or upgrade (seconds) and a short network cut, and
    /// still ends a pod's I/O when the node is really gone, where the kernel's ten minutes would
    /// hang it.
    /// </summary>
    public int CtrlLossTimeoutSeconds { get; set; } = 120;

    /// <summary>Seconds between reconnect attempts: 2, so a restarted target is back within seconds.</summary>
    public int ReconnectDelaySeconds { get; set; } = 2;

    /// <summary>
    /// Seconds after which I/O on a path being reconnected fails instead of waiting (-1: off). Off
    /// by default: with one path, failing I/O during a target restart would make the filesystem go
    /// read-only; with several, native multipath already sends I/O to the other paths.
    /// </summary>
    public int FastIoFailTimeoutSeconds { get; set; } = -1;

    /// <summary>Keep-alive timeout asked of the target: 5 s, so a dead connection is noticed in seconds (the kernel's default is 5 too, said here explicitly).</summary>
    public int KeepAliveTimeoutSeconds { get; set; } = 5;

    /// <summary>Every external command (nvme, mkfs, mount, ...) is killed after this long.</summary>
    public int CommandTimeoutSeconds { get; set; } = 60;

    /// <summary>How long a connect waits for the namespace's block device to appear.</summary>
    public int DeviceWaitSeconds { get; set; } = 15;

    /// <summary>
    /// How this node attaches a volume whose StorageClass does not say (its <c>attachMode</c>):
    /// <c>kernel</c>, the kernel's NVMe/TCP host (nvme connect; needs nvme-tcp), or <c>managed</c>,
    /// the managed initiator in this plugin serving the volume as a ublk block device (needs
    /// ublk_drv, Linux 6.0+; our own reconnect and multipath, no nvme-tcp).
    /// </summary>
    public string AttachMode { get; set; } = "kernel";

    /// <summary>
    /// Where the plugin notes each volume it serves in managed mode (volume, paths, ublk device
    /// number), so a restarted plugin takes its devices back (ublk user recovery) without the file
    /// systems on them noticing. Must outlive the plugin's container: under the kubelet folder.
    /// </summary>
    public string ManagedStateDirectory { get; set; } = "/var/lib/kubelet/plugins/novastor.csi.io/managed";

    /// <summary>Hardware queues of a managed volume's ublk device, each with its NVMe/TCP I/O queue and a thread of its own.</summary>
    public int ManagedQueues { get; set; } = 2;

    /// <summary>Requests in flight per hardware queue of a managed volume.</summary>
    public int ManagedQueueDepth { get; set; } = 64;

    /// <summary>
    /// The longest a managed volume's NVMe/TCP queue thread polls for an answer before it sleeps
    /// (NvmeConnectionOptions.PollMicroseconds): it polls only while answers come within it, so a
    /// busy queue at depth 1 trades up to a core for a shorter round trip; 0 never polls.
    /// </summary>
    public int ManagedPollMicroseconds { get; set; } = NovaStor.Initiator.NvmeConnectionOptions.DefaultPollMicroseconds;

    /// <summary>Volumes this node takes (NodeGetInfo's max_volumes_per_node).</summary>
    public int MaxVolumes { get; set; } = 128;
}
