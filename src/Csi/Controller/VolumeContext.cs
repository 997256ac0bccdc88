namespace NovaStor.Csi.Controller;

/// <summary>
/// The keys of a volume's context (CreateVolume's answer, handed to the node plugin with every
/// stage and publish): everything the node needs to find and check the volume, so the driver keeps
/// no database of its own.
/// </summary>
internal static class VolumeContext
{
    /// <summary>The storage node holding the volume.</summary>
    public const string Node = "novastor.io/node";

    /// <summary>The subsystem exporting it (namespace 1).</summary>
    public const string Nqn = "novastor.io/nqn";

    /// <summary>The namespace's NGUID (32 hex digits) and UUID: the node checks them before it uses a device.</summary>
    public const string Nguid = "novastor.io/nguid";

    public const string Uuid = "novastor.io/uuid";

    /// <summary>The NVMe/TCP paths, "address:port" separated by commas.</summary>
    public const string Paths = "novastor.io/paths";

    /// <summary>How the node attaches the volume (the StorageClass's attachMode): <see cref="AttachKernel"/> or <see cref="AttachManaged"/>; absent, the node's default.</summary>
    public const string Attach = "novastor.io/attach";

    /// <summary>The kernel's NVMe/TCP host (nvme connect).</summary>
    public const string AttachKernel = "kernel";

    /// <summary>The managed initiator in the node plugin, serving the volume as a ublk block device.</summary>
    public const string AttachManaged = "managed";

    public static bool IsAttachMode(string? mode) => mode is AttachKernel or AttachManaged;

    /// <summary>The namespace id within <see cref="Nqn"/>: always 1.</summary>
    public const uint NamespaceId = 1;
}
