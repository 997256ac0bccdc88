namespace NovaStor.Protocol.Authentication;

/// <summary>DH-HMAC-CHAP Diffie-Hellman group identifiers (NVMe Base 2.1): none, or an RFC 7919 FFDHE group.</summary>
public enum DhchapGroup : byte
{
    /// <summary>No Diffie-Hellman exchange: the challenge is used as it is.</summary>
    Null = 0x00,
    Ffdhe2048 = 0x01,
    Ffdhe3072 = 0x02,
    Ffdhe4096 = 0x03,
    Ffdhe6144 = 0x04,
    Ffdhe8192 = 0x05,
}

/// <summary>Names and sizes of the groups.</summary>
public static class DhchapGroups
{
    /// <summary>Every group, in the order a host offers them (the Linux host's order).</summary>
    public static IReadOnlyList<DhchapGroup> All { get; } =
        [DhchapGroup.Null, DhchapGroup.Ffdhe2048, DhchapGroup.Ffdhe3072, DhchapGroup.Ffdhe4096, DhchapGroup.Ffdhe6144, DhchapGroup.Ffdhe8192];

    public static bool IsDefined(byte id) => id <= 5;

    /// <summary>Bytes of a public value or shared secret in the group (the prime's length); 0 for the null group.</summary>
    public static int ValueLength(DhchapGroup group) => group switch
    {
        DhchapGroup.Null => 0,
        DhchapGroup.Ffdhe2048 => 256,
        DhchapGroup.Ffdhe3072 => 384,
        DhchapGroup.Ffdhe4096 => 512,
        DhchapGroup.Ffdhe6144 => 768,
        DhchapGroup.Ffdhe8192 => 1024,
        _ => throw new ArgumentOutOfRangeException(nameof(group), group, "not a DH-HMAC-CHAP group"),
    };

    /// <summary>The name nvme-cli and nvmet's configfs use: "null", "ffdhe2048", ...</summary>
    public static string Name(DhchapGroup group) => group switch
    {
        DhchapGroup.Null => "null",
        >= DhchapGroup.Ffdhe2048 and <= DhchapGroup.Ffdhe8192 => $"ffdhe{ValueLength(group) * 8}",
        _ => $"group 0x{(byte)group:X2}",
    };

    public static bool TryParse(string? text, out DhchapGroup group)
    {
        string name = (text ?? "").Trim().ToLowerInvariant();
        foreach (var candidate in All)
        {
            if (name == Name(candidate))
            {
                group = candidate;
                return true;
            }
        }

        group = default;
        return false;
    }
}
