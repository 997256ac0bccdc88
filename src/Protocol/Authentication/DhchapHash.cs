using System.Security.Cryptography;

namespace NovaStor.Protocol.Authentication;

/// <summary>DH-HMAC-CHAP hash function identifiers (NVMe Base 2.1, "DH-HMAC-CHAP hash function identifiers").</summary>
public enum DhchapHash : byte
{
    Sha256 = 0x01,
    Sha384 = 0x02,
    Sha512 = 0x03,
}

/// <summary>What each hash function is: its length, its names, and HMAC and hash over it (.NET's SHA-2).</summary>
public static class DhchapHashes
{
    /// <summary>Every hash function, in the order a host offers them (the Linux host's order).</summary>
    public static IReadOnlyList<DhchapHash> All { get; } = [DhchapHash.Sha256, DhchapHash.Sha384, DhchapHash.Sha512];

    /// <summary>The longest hash (SHA-512): the largest challenge or response.</summary>
    public const int MaxLength = 64;

    public static bool IsDefined(byte id) => id is >= 1 and <= 3;

    public static int Length(DhchapHash hash) => hash switch
    {
        DhchapHash.Sha256 => 32,
        DhchapHash.Sha384 => 48,
        DhchapHash.Sha512 => 64,
        _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "not a DH-HMAC-CHAP hash function"),
    };

    /// <summary>The name nvme-cli and nvmet's configfs use for it, without "hmac(...)".</summary>
    public static string Name(DhchapHash hash) => hash switch
    {
        DhchapHash.Sha256 => "sha256",
        DhchapHash.Sha384 => "sha384",
        DhchapHash.Sha512 => "sha512",
        _ => $"hash 0x{(byte)hash:X2}",
    };

    /// <summary>Parses "sha256", "SHA-384", "hmac(sha512)" and the like.</summary>
    public static bool TryParse(string? text, out DhchapHash hash)
    {
        string name = (text ?? "").Trim().ToLowerInvariant().Replace("-", "", StringComparison.Ordinal);
        if (name.StartsWith("hmac(", StringComparison.Ordinal) && name.EndsWith(')'))
        {
            name = name[5..^1];
        }

        (bool found, hash) = name switch
        {
            "sha256" => (true, DhchapHash.Sha256),
            "sha384" => (true, DhchapHash.Sha384),
            "sha512" => (true, DhchapHash.Sha512),
            _ => (false, default),
        };
        return found;
    }

    public static HashAlgorithmName Algorithm(DhchapHash hash) => hash switch
    {
        DhchapHash.Sha256 => HashAlgorithmName.SHA256,
        DhchapHash.Sha384 => HashAlgorithmName.SHA384,
        DhchapHash.Sha512 => HashAlgorithmName.SHA512,
        _ => throw new ArgumentOutOfRangeException(nameof(hash), hash, "not a DH-HMAC-CHAP hash function"),
    };

    /// <summary>HMAC of <paramref name="data"/> under <paramref name="key"/>; writes <see cref="Length"/> bytes.</summary>
    public static void Hmac(DhchapHash hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        switch (hash)
        {
            case DhchapHash.Sha256:
                HMACSHA256.HashData(key, data, destination);
                break;
            case DhchapHash.Sha384:
                HMACSHA384.HashData(key, data, destination);
                break;
            default:
                HMACSHA512.HashData(key, data, destination);
                break;
        }
    }

    /// <summary>The plain hash of <paramref name="data"/>; writes <see cref="Length"/> bytes.</summary>
    public static void Hash(DhchapHash hash, ReadOnlySpan<byte> data, Span<byte> destination)
    {
        switch (hash)
        {
            case DhchapHash.Sha256:
                SHA256.HashData(data, destination);
                break;
            case DhchapHash.Sha384:
                SHA384.HashData(data, destination);
                break;
            default:
                SHA512.HashData(data, destination);
                break;
        }
    }
}
