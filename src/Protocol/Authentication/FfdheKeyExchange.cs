using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;

namespace NovaStor.Protocol.Authentication;

/// <summary>
/// One side of a finite-field Diffie-Hellman exchange in an RFC 7919 group (generator 2), as
/// DH-HMAC-CHAP uses it: a fresh private exponent, the public value g^x mod p and the shared
/// secret y^x mod p, both big-endian and padded to the prime's length (as the Linux kernel's
/// "ffdheN(dh)" does, so the session keys hash alike). .NET has no FFDHE API, so this is
/// <see cref="BigInteger.ModPow"/>; the exponent is short (RFC 7919 section 5.2 allows 2x the
/// group's security strength), which keeps an 8192-bit exchange in tens of milliseconds.
/// </summary>
/// <remarks>
/// The private exponent lives in a <see cref="BigInteger"/>, which cannot be wiped; it is dropped
/// with the object after one exchange.
/// </remarks>
public sealed class FfdheKeyExchange
{
    private static readonly BigInteger Generator = 2;
    private static readonly Lazy<BigInteger>[] Primes =
    [
        new(() => ParsePrime(FfdhePrimes.Ffdhe2048)),
        new(() => ParsePrime(FfdhePrimes.Ffdhe3072)),
        new(() => ParsePrime(FfdhePrimes.Ffdhe4096)),
        new(() => ParsePrime(FfdhePrimes.Ffdhe6144)),
        new(() => ParsePrime(FfdhePrimes.Ffdhe8192)),
    ];

    private readonly BigInteger _prime;
    private readonly BigInteger _privateExponent;

    public FfdheKeyExchange(DhchapGroup group)
    {
        if (group is DhchapGroup.Null || !DhchapGroups.IsDefined((byte)group))
        {
            throw new ArgumentOutOfRangeException(nameof(group), group, "not an FFDHE group");
        }

        Group = group;
        ValueLength = DhchapGroups.ValueLength(group);
        _prime = Prime(group);
        _privateExponent = RandomExponent(ExponentBits(group));
        PublicValue = ToFixedLength(BigInteger.ModPow(Generator, _privateExponent, _prime), ValueLength);
    }

    public DhchapGroup Group { get; }

    /// <summary>Bytes of a public value and of the shared secret.</summary>
    public int ValueLength { get; }

    /// <summary>g^x mod p, big-endian, <see cref="ValueLength"/> bytes: what goes on the wire.</summary>
    public byte[] PublicValue { get; }

    /// <summary>
    /// The shared secret with a peer whose public value is <paramref name="peerPublicValue"/>, or
    /// null when that value is not one (wrong length, or outside 2..p-2: the values 0, 1 and p-1
    /// would force a known secret; the group's other subgroup is prime, so nothing else can).
    /// </summary>
    public byte[]? TryDeriveSharedSecret(ReadOnlySpan<byte> peerPublicValue)
    {
        if (peerPublicValue.Length != ValueLength)
        {
            return null;
        }

        var peer = new BigInteger(peerPublicValue, isUnsigned: true, isBigEndian: true);
        if (peer <= BigInteger.One || peer >= _prime - BigInteger.One)
        {
            return null;
        }

        return ToFixedLength(BigInteger.ModPow(peer, _privateExponent, _prime), ValueLength);
    }

    /// <summary>The group's prime p.</summary>
    internal static BigInteger Prime(DhchapGroup group) => Primes[(int)group - 1].Value;

    /// <summary>Private exponent size: at least RFC 7919's 2x security strength (225, 275, 325, 375, 400 bits).</summary>
    private static int ExponentBits(DhchapGroup group) => group switch
    {
        DhchapGroup.Ffdhe2048 => 256,
        DhchapGroup.Ffdhe3072 => 320,
        DhchapGroup.Ffdhe4096 => 384,
        DhchapGroup.Ffdhe6144 => 448,
        _ => 512,
    };

    private static BigInteger RandomExponent(int bits)
    {
        Span<byte> bytes = stackalloc byte[bits / 8];
        do
        {
            RandomNumberGenerator.Fill(bytes);
        }
        while (bytes.IndexOfAnyExcept((byte)0) < 0);

        var exponent = new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
        CryptographicOperations.ZeroMemory(bytes);
        return exponent;
    }

    private static byte[] ToFixedLength(BigInteger value, int length)
    {
        var bytes = new byte[length];
        int written = value.GetByteCount(isUnsigned: true);
        value.TryWriteBytes(bytes.AsSpan(length - written), out _, isUnsigned: true, isBigEndian: true);
        return bytes;
    }

    private static BigInteger ParsePrime(string hex) => BigInteger.Parse("0" + hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
