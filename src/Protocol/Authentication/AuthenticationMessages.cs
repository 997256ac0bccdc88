using System.Buffers.Binary;

namespace NovaStor.Protocol.Authentication;

/// <summary>AUTH-TYPE: which set a message belongs to.</summary>
public static class AuthenticationMessageType
{
    /// <summary>AUTH_Negotiate and the failure messages.</summary>
    public const byte Common = 0x00;

    /// <summary>DH-HMAC-CHAP_Challenge, _Reply, _Success1, _Success2.</summary>
    public const byte Dhchap = 0x01;
}

/// <summary>AUTH-ID: the message.</summary>
public static class AuthenticationMessageId
{
    public const byte Negotiate = 0x00;
    public const byte Challenge = 0x01;
    public const byte Reply = 0x02;
    public const byte Success1 = 0x03;
    public const byte Success2 = 0x04;
    public const byte Failure2 = 0xF0;
    public const byte Failure1 = 0xF1;
}

/// <summary>Reason code explanations of AUTH_Failure1/2 (the reason code itself is always 01h, "authentication failure").</summary>
public enum DhchapFailure : byte
{
    None = 0x00,
    Failed = 0x01,
    NotUsable = 0x02,
    ConcatenationMismatch = 0x03,
    HashUnusable = 0x04,
    DhGroupUnusable = 0x05,
    IncorrectPayload = 0x06,
    IncorrectMessage = 0x07,
}

/// <summary>
/// AUTH_Negotiate, host to controller (Authentication Send):
/// <code>
///  0      AUTH-TYPE 00h
///  1      AUTH-ID   00h
///  4..5   T_ID      transaction identifier
///  6      SC_C      secure channel concatenation (0: none)
///  7      NAPD      number of protocol descriptors
///  8..71  the DH-HMAC-CHAP descriptor:
///           +0 AUTHID 01h, +2 HALEN, +3 DHLEN,
///           +4..+33 hash function ids (HALEN used), +34..+63 DH group ids (DHLEN used)
/// </code>
/// </summary>
public sealed record NegotiateMessage(ushort TransactionId, byte SecureChannel, IReadOnlyList<DhchapHash> Hashes, IReadOnlyList<DhchapGroup> Groups)
{
    public const int Length = 72;
    private const byte DhchapProtocolId = 0x01;
    private const int MaxIds = 30;

    public int WriteTo(Span<byte> data)
    {
        data = data[..Length];
        data.Clear();
        data[0] = AuthenticationMessageType.Common;
        data[1] = AuthenticationMessageId.Negotiate;
        BinaryPrimitives.WriteUInt16LittleEndian(data[4..], TransactionId);
        data[6] = SecureChannel;
        data[7] = 1;
        data[8] = DhchapProtocolId;
        data[10] = (byte)Hashes.Count;
        data[11] = (byte)Groups.Count;
        for (int i = 0; i < Hashes.Count; i++)
        {
            data[12 + i] = (byte)Hashes[i];
        }

        for (int i = 0; i < Groups.Count; i++)
        {
            data[12 + MaxIds + i] = (byte)Groups[i];
        }

        return Length;
    }

    /// <summary>Reads the message; unknown ids in the lists are skipped (a host may offer what we do not know).</summary>
    public static DhchapFailure TryRead(ReadOnlySpan<byte> data, out NegotiateMessage? message)
    {
        message = null;
        if (data.Length < Length)
        {
            return DhchapFailure.IncorrectPayload;
        }

        if (data[7] != 1)
        {
            // One protocol (DH-HMAC-CHAP) is all there is; the Linux target answers the same.
            return DhchapFailure.HashUnusable;
        }

        int hashCount = data[10], groupCount = data[11];
        if (data[8] != DhchapProtocolId || hashCount > MaxIds || groupCount > MaxIds)
        {
            return DhchapFailure.IncorrectPayload;
        }

        var hashes = new List<DhchapHash>();
        foreach (byte id in data.Slice(12, hashCount))
        {
            if (DhchapHashes.IsDefined(id))
            {
                hashes.Add((DhchapHash)id);
            }
        }

        var groups = new List<DhchapGroup>();
        foreach (byte id in data.Slice(12 + MaxIds, groupCount))
        {
            if (DhchapGroups.IsDefined(id))
            {
                groups.Add((DhchapGroup)id);
            }
        }

        message = new NegotiateMessage(BinaryPrimitives.ReadUInt16LittleEndian(data[4..]), data[6], hashes, groups);
        return DhchapFailure.None;
    }
}

/// <summary>
/// DH-HMAC-CHAP_Challenge, controller to host (Authentication Receive):
/// <code>
///  0       AUTH-TYPE 01h
///  1       AUTH-ID   01h
///  4..5    T_ID
///  6       HL        hash length
///  8       HASHID
///  9       DHGID
///  10..11  DHVLEN    DH value length (0 for the null group)
///  12..15  SEQNUM    S1
///  16..    C1 (HL bytes), then the controller's DH value (DHVLEN bytes)
/// </code>
/// </summary>
public sealed record ChallengeMessage(ushort TransactionId, DhchapHash Hash, DhchapGroup Group, uint SequenceNumber, byte[] Challenge, byte[] DhValue)
{
    public const int HeaderLength = 16;

    public int Length => HeaderLength + Challenge.Length + DhValue.Length;

    public int WriteTo(Span<byte> data)
    {
        data = data[..Length];
        data.Clear();
        data[0] = AuthenticationMessageType.Dhchap;
        data[1] = AuthenticationMessageId.Challenge;
        BinaryPrimitives.WriteUInt16LittleEndian(data[4..], TransactionId);
        data[6] = (byte)Challenge.Length;
        data[8] = (byte)Hash;
        data[9] = (byte)Group;
        BinaryPrimitives.WriteUInt16LittleEndian(data[10..], (ushort)DhValue.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(data[12..], SequenceNumber);
        Challenge.CopyTo(data[HeaderLength..]);
        DhValue.CopyTo(data[(HeaderLength + Challenge.Length)..]);
        return Length;
    }

    public static DhchapFailure TryRead(ReadOnlySpan<byte> data, out ChallengeMessage? message)
    {
        message = null;
        if (data.Length < HeaderLength)
        {
            return DhchapFailure.IncorrectPayload;
        }

        if (!DhchapHashes.IsDefined(data[8]) || data[6] != DhchapHashes.Length((DhchapHash)data[8]))
        {
            return DhchapFailure.HashUnusable;
        }

        if (!DhchapGroups.IsDefined(data[9]))
        {
            return DhchapFailure.DhGroupUnusable;
        }

        int hashLength = data[6];
        int dhLength = BinaryPrimitives.ReadUInt16LittleEndian(data[10..]);
        var group = (DhchapGroup)data[9];
        if (dhLength != DhchapGroups.ValueLength(group) || data.Length < HeaderLength + hashLength + dhLength)
        {
            return DhchapFailure.IncorrectPayload;
        }

        message = new ChallengeMessage(BinaryPrimitives.ReadUInt16LittleEndian(data[4..]), (DhchapHash)data[8], group,
            BinaryPrimitives.ReadUInt32LittleEndian(data[12..]), data.Slice(HeaderLength, hashLength).ToArray(),
            data.Slice(HeaderLength + hashLength, dhLength).ToArray());
        return DhchapFailure.None;
    }
}

/// <summary>
/// DH-HMAC-CHAP_Reply, host to controller (Authentication Send):
/// <code>
///  0       AUTH-TYPE 01h
///  1       AUTH-ID   02h
///  4..5    T_ID
///  6       HL
///  8       CVALID    1: C2 is a challenge for the controller (bidirectional)
///  10..11  DHVLEN
///  12..15  SEQNUM    S2 (0 when not bidirectional)
///  16..    R1 (HL bytes), C2 (HL bytes), the host's DH value (DHVLEN bytes)
/// </code>
/// </summary>
public sealed record ReplyMessage(ushort TransactionId, byte[] Response, byte[]? ControllerChallenge, uint SequenceNumber, byte[] DhValue)
{
    public const int HeaderLength = 16;

    public int Length => HeaderLength + (2 * Response.Length) + DhValue.Length;

    public int WriteTo(Span<byte> data)
    {
        int hashLength = Response.Length;
        data = data[..Length];
        data.Clear();
        data[0] = AuthenticationMessageType.Dhchap;
        data[1] = AuthenticationMessageId.Reply;
        BinaryPrimitives.WriteUInt16LittleEndian(data[4..], TransactionId);
        data[6] = (byte)hashLength;
        data[8] = ControllerChallenge is null ? (byte)0 : (byte)1;
        BinaryPrimitives.WriteUInt16LittleEndian(data[10..], (ushort)DhValue.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(data[12..], SequenceNumber);
        Response.CopyTo(data[HeaderLength..]);
        ControllerChallenge?.CopyTo(data[(HeaderLength + hashLength)..]);
        DhValue.CopyTo(data[(HeaderLength + (2 * hashLength))..]);
        return Length;
    }

    /// <summary>Reads a reply whose hash length must be <paramref name="hashLength"/>.</summary>
    public static DhchapFailure TryRead(ReadOnlySpan<byte> data, int hashLength, out ReplyMessage? message)
    {
        message = null;
        if (data.Length < HeaderLength || data[6] != hashLength)
        {
            return DhchapFailure.IncorrectPayload;
        }

        int dhLength = BinaryPrimitives.ReadUInt16LittleEndian(data[10..]);
        if (data.Length < HeaderLength + (2 * hashLength) + dhLength)
        {
            return DhchapFailure.IncorrectPayload;
        }

        bool challengeValid = (data[8] & 1) != 0;
        message = new ReplyMessage(BinaryPrimitives.ReadUInt16LittleEndian(data[4..]),
            data.Slice(HeaderLength, hashLength).ToArray(),
            challengeValid ? data.Slice(HeaderLength + hashLength, hashLength).ToArray() : null,
            BinaryPrimitives.ReadUInt32LittleEndian(data[12..]),
            data.Slice(HeaderLength + (2 * hashLength), dhLength).ToArray());
        return DhchapFailure.None;
    }
}

/// <summary>
/// DH-HMAC-CHAP_Success1, controller to host (Authentication Receive):
/// <code>
///  0      AUTH-TYPE 01h
///  1      AUTH-ID   03h
///  4..5   T_ID
///  6      HL
///  8      RVALID    1: R2 is the controller's response (bidirectional)
///  16..   R2 (HL bytes)
/// </code>
/// </summary>
public sealed record Success1Message(ushort TransactionId, int HashLength, byte[]? Response)
{
    public const int HeaderLength = 16;

    public int Length => HeaderLength + HashLength;

    public int WriteTo(Span<byte> data)
    {
        data = data[..Length];
        data.Clear();
        data[0] = AuthenticationMessageType.Dhchap;
        data[1] = AuthenticationMessageId.Success1;
        BinaryPrimitives.WriteUInt16LittleEndian(data[4..], TransactionId);
        data[6] = (byte)HashLength;
        if (Response is not null)
        {
            data[8] = 1;
            Response.CopyTo(data[HeaderLength..]);
        }

        return Length;
    }

    public static DhchapFailure TryRead(ReadOnlySpan<byte> data, int hashLength, out Success1Message? message)
    {
        message = null;
        if (data.Length < HeaderLength || data[6] != hashLength)
        {
            return DhchapFailure.HashUnusable;
        }

        bool responseValid = (data[8] & 1) != 0;
        if (responseValid && data.Length < HeaderLength + hashLength)
        {
            return DhchapFailure.IncorrectPayload;
        }

        message = new Success1Message(BinaryPrimitives.ReadUInt16LittleEndian(data[4..]), hashLength,
            responseValid ? data.Slice(HeaderLength, hashLength).ToArray() : null);
        return DhchapFailure.None;
    }
}

/// <summary>
/// The short messages: DH-HMAC-CHAP_Success2 (host to controller, 16 bytes) and AUTH_Failure1
/// (controller to host) / AUTH_Failure2 (host to controller), 8 bytes:
/// <code>
///  0      AUTH-TYPE 01h (Success2) or 00h (failures)
///  1      AUTH-ID   04h, F1h (Failure1) or F0h (Failure2)
///  4..5   T_ID
///  6      RESCODE      01h, authentication failure (failures only)
///  7      RESCODE_EXP  a <see cref="DhchapFailure"/> (failures only)
/// </code>
/// </summary>
public static class AuthenticationEndMessages
{
    public const int Success2Length = 16;
    public const int FailureLength = 8;
    private const byte ReasonAuthenticationFailure = 0x01;

    public static int WriteSuccess2(Span<byte> data, ushort transactionId)
    {
        data = data[..Success2Length];
        data.Clear();
        data[0] = AuthenticationMessageType.Dhchap;
        data[1] = AuthenticationMessageId.Success2;
        BinaryPrimitives.WriteUInt16LittleEndian(data[4..], transactionId);
        return Success2Length;
    }

    public static int WriteFailure(Span<byte> data, byte messageId, ushort transactionId, DhchapFailure explanation)
    {
        data = data[..FailureLength];
        data.Clear();
        data[0] = AuthenticationMessageType.Common;
        data[1] = messageId;
        BinaryPrimitives.WriteUInt16LittleEndian(data[4..], transactionId);
        data[6] = ReasonAuthenticationFailure;
        data[7] = (byte)explanation;
        return FailureLength;
    }

    /// <summary>True when <paramref name="data"/> is an AUTH_Failure1/2; <paramref name="explanation"/> says why.</summary>
    public static bool IsFailure(ReadOnlySpan<byte> data, out DhchapFailure explanation)
    {
        bool failure = data.Length >= FailureLength && data[0] == AuthenticationMessageType.Common
            && data[1] is AuthenticationMessageId.Failure1 or AuthenticationMessageId.Failure2;
        explanation = failure ? (DhchapFailure)data[7] : DhchapFailure.None;
        return failure;
    }

    public static ushort TransactionId(ReadOnlySpan<byte> data) => BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);

    public static string Describe(DhchapFailure failure) => failure switch
    {
        DhchapFailure.Failed => "authentication failed",
        DhchapFailure.NotUsable => "authentication protocol not usable",
        DhchapFailure.ConcatenationMismatch => "secure channel concatenation mismatch",
        DhchapFailure.HashUnusable => "hash function not usable",
        DhchapFailure.DhGroupUnusable => "DH group not usable",
        DhchapFailure.IncorrectPayload => "incorrect payload",
        DhchapFailure.IncorrectMessage => "incorrect protocol message",
        _ => $"reason 0x{(byte)failure:X2}",
    };
}
