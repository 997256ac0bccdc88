using NovaStor.Csi.V1;
using Mode = NovaStor.Csi.V1.VolumeCapability.Types.AccessMode.Types.Mode;

namespace NovaStor.Csi.Tests;

/// <summary>Volume capabilities as the sidecars send them.</summary>
internal static class Capabilities
{
    public static VolumeCapability Mount(string fsType = "ext4", Mode mode = Mode.SingleNodeWriter) => new()
    {
        Mount = new VolumeCapability.Types.MountVolume { FsType = fsType },
        AccessMode = new VolumeCapability.Types.AccessMode { Mode = mode },
    };

    public static VolumeCapability Block(Mode mode = Mode.SingleNodeWriter) => new()
    {
        Block = new VolumeCapability.Types.BlockVolume(),
        AccessMode = new VolumeCapability.Types.AccessMode { Mode = mode },
    };

    public static CreateVolumeRequest Create(string name, long requiredBytes = 64L << 20, VolumeCapability? capability = null, params string[] requisiteNodes)
    {
        var request = new CreateVolumeRequest
        {
            Name = name,
            CapacityRange = new CapacityRange { RequiredBytes = requiredBytes },
            VolumeCapabilities = { capability ?? Mount() },
        };
        if (requisiteNodes.Length > 0)
        {
            request.AccessibilityRequirements = new TopologyRequirement();
            foreach (string node in requisiteNodes)
            {
                request.AccessibilityRequirements.Requisite.Add(new Topology { Segments = { ["novastor.io/node"] = node } });
            }
        }

        return request;
    }
}
