using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;

namespace NovaStor.Protocol.Authentication;

/// <summary>
/// A DH-HMAC-CHAP secret in the representation nvme-cli's <c>gen-dhchap-key</c> prints and the
/// Linux host and target read (NVMe Base 2.1, "DH-HMAC-CHAP secret representation"):
/// <code>
///   DHHC-1:XX:BASE64:
///   XX      transformation hash: 00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512
///   BASE64  the key (32, 48 or 64 bytes) followed by the CRC-32 of the key, little-endian
/// </code>
/// <see cref="ToString"/> never shows the key; <see cref="Format"/> does, for the one place that
/// prints a new secret. <see cref="Dispose"/> wipes the key.
/// </summary>
public sealed class DhchapSecret : IDisposable
{
    private const string Prefix = "DHHC-1:";
    private readonly byte[] _key;

    private DhchapSecret(byte[] key, byte transform)
    {
        _key = key;
        TransformHash = transform;
    }

    /// <summary>0: the key is used as it is; 1..3: it is first transformed with that hash (see <see cref="TransformFor"/>).</summary>
    public byte TransformHash { get; }

    public int Length => _key.Length;

    /// <summary>Reads a secret; the message of the exception says what is wrong, never the key.</summary>
    /// <exception cref="FormatException">Not a valid DHHC-1 secret.</exception>
    public static DhchapSecret Parse(string text) =>
        TryParse(text, out var secret, out string? problem) ? secret! : throw new FormatException($"Not a DH-HMAC-CHAP secret: {problem}.");

    public static bool TryParse(string? text, out DhchapSecret? secret, out string? problem)
    {
        secret = null;
        text = text?.Trim() ?? "";
        if (!text.StartsWith(Prefix, StringComparison.Ordinal) || text.Length < Prefix.Length + 4 || text[Prefix.Length + 2] != ':')
        {
            problem = "expected DHHC-1:XX:<base64>: (as nvme gen-dhchap-key prints)";
            return false;
        }

        if (!byte.TryParse(text.AsSpan(Prefix.Length, 2), out byte transform) || transform > 3)
        {
            problem = "the transformation hash (XX) must be 00, 01, 02 or 03";
            return false;
        }

        var encoded = text.AsSpan(Prefix.Length + 3).TrimEnd(':');
        var decoded = new byte[(encoded.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64Chars(encoded, decoded, out int length))
        {
            problem = "the key is not base64";
            return false;
        }

        if (length is not (36 or 52 or 68))
        {
            CryptographicOperations.ZeroMemory(decoded);
            problem = $"the key is {length - 4} bytes; it must be 32, 48 or 64 (with its 4-byte CRC)";
            return false;
        }

        var key = decoded[..(length - 4)];
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(decoded.AsSpan(length - 4));
        CryptographicOperations.ZeroMemory(decoded);
        if (stored != Crc32.HashToUInt32(key))
        {
            CryptographicOperations.ZeroMemory(key);
            problem = "its CRC does not match the key (mistyped or truncated?)";
            return false;
        }

        secret = new DhchapSecret(key, transform);
        problem = null;
        return true;
    }

    /// <summary>A new random secret of <paramref name="length"/> bytes (32, 48 or 64).</summary>
    public static DhchapSecret Generate(int length = 32, byte transform = 0)
    {
        if (length is not (32 or 48 or 64))
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "a DH-HMAC-CHAP key is 32, 48 or 64 bytes");
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(transform, (byte)3);
        return new DhchapSecret(RandomNumberGenerator.GetBytes(length), transform);
    }

    /// <summary>The full representation, key included: only for printing a secret someone asked for.</summary>
    public string Format()
    {
        var bytes = new byte[_key.Length + 4];
        _key.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(_key.Length), Crc32.HashToUInt32(_key));
        string text = $"{Prefix}{TransformHash:D2}:{Convert.ToBase64String(bytes)}:";
        CryptographicOperations.ZeroMemory(bytes);
        return text;
    }

    /// <summary>
    /// The key the responses are computed with: the key itself when <see cref="TransformHash"/> is 0,
    /// otherwise HMAC(key, NQN || "NVMe-over-Fabrics") with that hash (the host's secret with the host
    /// NQN, the controller's with the subsystem NQN). A new array: the caller wipes it.
    /// </summary>
    public byte[] TransformFor(string nqn)
    {
        if (TransformHash == 0)
        {
            return (byte[])_key.Clone();
        }

        var hash = (DhchapHash)TransformHash;
        var input = Encoding.UTF8.GetBytes(nqn + "NVMe-over-Fabrics");
        var transformed = new byte[DhchapHashes.Length(hash)];
        DhchapHashes.Hmac(hash, _key, input, transformed);
        return transformed;
    }

    /// <summary>True when both hold the same key and transformation (constant time in the key).</summary>
    public bool SameAs(DhchapSecret other) =>
        TransformHash == other.TransformHash && CryptographicOperations.FixedTimeEquals(_key, other._key);

    /// <summary>Says what kind of secret this is without showing it.</summary>
    public override string ToString() => $"{Prefix}{TransformHash:D2}:<{_key.Length}-byte key>:";

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);
}
