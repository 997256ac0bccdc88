using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace NovaStor.Protocol.Authentication;

/// <summary>
/// The two DH-HMAC-CHAP responses (NVMe Base 2.1, "DH-HMAC-CHAP protocol"), computed alike by
/// the side that sends one and the side that checks it:
/// <code>
///   R1 = HMAC(Kh', Ca1 || S1 || T_ID || SC_C || "HostHost"   || NQNh || 00h || NQNc)
///   R2 = HMAC(Kc', Ca2 || S2 || T_ID || 00h  || "Controller" || NQNc || 00h || NQNh)
/// </code>
/// S is little-endian 32-bit, T_ID little-endian 16-bit; Kh' and Kc' are the transformed host and
/// controller keys (<see cref="DhchapSecret.TransformFor"/>). With a DH group the challenge is
/// augmented with the session key Ks: Ca = HMAC(H(Ks), C); with the null group Ca = C.
/// </summary>
public static class DhchapResponses
{
    public static byte[] Host(DhchapHash hash, ReadOnlySpan<byte> transformedHostKey, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> sessionKey,
        uint sequenceNumber, ushort transactionId, byte secureChannel, string hostNqn, string subsystemNqn) =>
        Compute(hash, transformedHostKey, challenge, sessionKey, sequenceNumber, transactionId, secureChannel, "HostHost", hostNqn, subsystemNqn);

    public static byte[] Controller(DhchapHash hash, ReadOnlySpan<byte> transformedControllerKey, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> sessionKey,
        uint sequenceNumber, ushort transactionId, string hostNqn, string subsystemNqn) =>
        Compute(hash, transformedControllerKey, challenge, sessionKey, sequenceNumber, transactionId, 0, "Controller", subsystemNqn, hostNqn);

    /// <summary>Compares a received response with the expected one in constant time.</summary>
    public static bool Matches(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> received) => CryptographicOperations.FixedTimeEquals(expected, received);

    private static byte[] Compute(DhchapHash hash, ReadOnlySpan<byte> key, ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> sessionKey,
        uint sequenceNumber, ushort transactionId, byte secureChannel, string role, string firstNqn, string secondNqn)
    {
        int length = DhchapHashes.Length(hash);
        Span<byte> augmented = stackalloc byte[DhchapHashes.MaxLength];
        augmented = augmented[..length];
        if (sessionKey.IsEmpty)
        {
            challenge[..length].CopyTo(augmented);
        }
        else
        {
            Span<byte> hashedSessionKey = stackalloc byte[length];
            DhchapHashes.Hash(hash, sessionKey, hashedSessionKey);
            DhchapHashes.Hmac(hash, hashedSessionKey, challenge[..length], augmented);
            CryptographicOperations.ZeroMemory(hashedSessionKey);
        }

        using var hmac = IncrementalHash.CreateHMAC(DhchapHashes.Algorithm(hash), key);
        Span<byte> number = stackalloc byte[4];
        hmac.AppendData(augmented);
        BinaryPrimitives.WriteUInt32LittleEndian(number, sequenceNumber);
        hmac.AppendData(number);
        BinaryPrimitives.WriteUInt16LittleEndian(number, transactionId);
        hmac.AppendData(number[..2]);
        number[0] = secureChannel;
        hmac.AppendData(number[..1]);
        hmac.AppendData(Encoding.ASCII.GetBytes(role));
        hmac.AppendData(Encoding.UTF8.GetBytes(firstNqn));
        number[0] = 0;
        hmac.AppendData(number[..1]);
        hmac.AppendData(Encoding.UTF8.GetBytes(secondNqn));
        CryptographicOperations.ZeroMemory(augmented);
        return hmac.GetHashAndReset();
    }
}
