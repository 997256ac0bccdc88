using System.Security.Cryptography;
using System.Text;

namespace NovaStor.Csi.Controller;

/// <summary>
/// How a CSI volume is named on a storage node, with no database of our own: the CSI name gives the
/// catalog volume's name, the volume ID is "node/volume" (the node owns it; Kubernetes node names
/// hold no '/'), and the volume's subsystem NQN is derived from the volume's name.
/// </summary>
internal static class VolumeNaming
{
    /// <summary>NQNs of the subsystems the driver creates: this prefix, then the catalog volume's name.</summary>
    public const string NqnPrefix = "nqn.2026-12.io.novastor:csi:";

    /// <summary>A catalog volume name: 1..128 of letters, digits, '.', '_', '-', starting with a letter or digit.</summary>
    public const int MaxVolumeNameLength = 128;

    private const string HashedPrefix = "csi-";

    /// <summary>
    /// The catalog name for a CSI volume name: the name itself when the catalog accepts it (the
    /// external-provisioner's "pvc-UUID" does), otherwise "csi-" and the SHA-256 of the name (hex,
    /// 64 characters): the same name always maps to the same volume, two names never to one.
    /// </summary>
    public static string VolumeName(string csiName)
    {
        if (IsCatalogName(csiName) && !csiName.StartsWith(HashedPrefix, StringComparison.Ordinal))
        {
            return csiName;
        }

        return HashedPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(csiName)));
    }

    /// <summary>The subsystem exporting a CSI volume: within NVMe's 223 bytes for any name (prefix 28 + at most 128).</summary>
    public static string SubsystemNqn(string volumeName) => NqnPrefix + volumeName;

    /// <summary>"node/volume".</summary>
    public static string VolumeId(string node, string volumeName) => node + "/" + volumeName;

    /// <summary>Reads a volume ID; false for one this driver could not have made.</summary>
    public static bool TryParseVolumeId(string? volumeId, out string node, out string volumeName)
    {
        node = volumeName = "";
        int slash = volumeId?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        if (volumeId is null || slash <= 0 || slash != volumeId.LastIndexOf('/') || !IsCatalogName(volumeId[(slash + 1)..]))
        {
            return false;
        }

        node = volumeId[..slash];
        volumeName = volumeId[(slash + 1)..];
        return true;
    }

    // The storage node catalog's rule (VolumeCatalog.IsValidName), written again because the driver
    // is a client of the control plane and does not reference the block engine; VolumeNamingTests
    // checks the two agree.
    private static bool IsCatalogName(string name) =>
        name.Length is > 0 and <= MaxVolumeNameLength
        && char.IsAsciiLetterOrDigit(name[0])
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
