using System.Security.Cryptography;
using System.Text;

namespace NovaStor.Target.Core;

/// <summary>
/// Identifiers derived from names, so they are the same after every restart and on every path,
/// and differ between subsystems (multipath groups paths by them).
/// </summary>
internal static class Identity
{
    /// <summary>Serial number (SN, 20 ASCII characters): a hash of the subsystem NQN.</summary>
    public static string SerialNumber(string subsystemNqn) =>
        Convert.ToHexStringLower(Hash("serial", subsystemNqn))[..20];

    /// <summary>NGUID: 16 bytes from the subsystem and the volume.</summary>
    public static byte[] NamespaceGuid(string subsystemNqn, string volumeName) =>
        Hash("nguid", subsystemNqn + "\0" + volumeName)[..16];

    /// <summary>UUID (RFC 9562 version 8, name based): 16 bytes from the subsystem and the volume.</summary>
    public static byte[] NamespaceUuid(string subsystemNqn, string volumeName)
    {
        var uuid = Hash("uuid", subsystemNqn + "\0" + volumeName)[..16];
        uuid[6] = (byte)((uuid[6] & 0x0F) | 0x80);
        uuid[8] = (byte)((uuid[8] & 0x3F) | 0x80);
        return uuid;
    }

    private static byte[] Hash(string purpose, string value) =>
        SHA256.HashData(Encoding.UTF8.GetBytes("novastor:" + purpose + ":" + value));
}
