using NovaStor.Csi.V1;
using Mode = NovaStor.Csi.V1.VolumeCapability.Types.AccessMode.Types.Mode;

namespace NovaStor.Csi;

/// <summary>
/// What volumes this driver can be used as: a block device, or a filesystem (ext4 or xfs) that
/// one node mounts. Block volumes may also be shared by several nodes (the hosts coordinate, e.g.
/// with NVMe reservations); a filesystem never is, since ext4 and xfs are not cluster filesystems.
/// </summary>
internal static class VolumeCapabilities
{
    /// <summary>Filesystems the node plugin makes and mounts; the first is the default.</summary>
    public static IReadOnlyList<string> FileSystems { get; } = ["ext4", "xfs"];

    /// <summary>Why <paramref name="capability"/> cannot be served, or null when it can.</summary>
    public static string? Problem(VolumeCapability? capability)
    {
        if (capability is null)
        {
            return "a volume capability is missing";
        }

        var mode = capability.AccessMode?.Mode ?? Mode.Unknown;
        switch (capability.AccessTypeCase)
        {
            case VolumeCapability.AccessTypeOneofCase.Block:
                return mode == Mode.Unknown ? "the access mode is missing or UNKNOWN" : null;
            case VolumeCapability.AccessTypeOneofCase.Mount:
                string fsType = capability.Mount.FsType;
                if (fsType.Length > 0 && !FileSystems.Contains(fsType, StringComparer.Ordinal))
                {
                    return $"filesystem '{fsType}' is not offered (ext4 or xfs)";
                }

                return mode switch
                {
                    Mode.Unknown => "the access mode is missing or UNKNOWN",
                    _ when IsMultiNode(mode) => $"access mode {mode} shares a filesystem between nodes; ext4 and xfs cannot be mounted by several nodes (use a block volume)",
                    _ => null,
                };
            default:
                return "the capability names neither block nor mount access";
        }
    }

    /// <summary>The first problem among <paramref name="capabilities"/>, or null; an empty list is a problem.</summary>
    public static string? Problem(IReadOnlyCollection<VolumeCapability> capabilities) =>
        capabilities.Count == 0 ? "volume_capabilities is empty" : capabilities.Select(Problem).FirstOrDefault(p => p is not null);

    public static bool IsMultiNode(Mode mode) => mode is Mode.MultiNodeReaderOnly or Mode.MultiNodeSingleWriter or Mode.MultiNodeMultiWriter;

    public static bool IsReadOnly(Mode mode) => mode is Mode.SingleNodeReaderOnly or Mode.MultiNodeReaderOnly;
}
