namespace NovaStor.Protocol.Authentication;

/// <summary>
/// The fields of the Fabrics Authentication Send (fctype 05h) and Receive (06h) commands (NVMe over
/// Fabrics 1.1a, figures "Authentication Send/Receive command"), in the SQE:
/// <code>
///  41      SPSP0   security protocol specific: 01h for DH-HMAC-CHAP
///  42      SPSP1   01h
///  43      SECP    security protocol: E9h, NVMe in-band authentication
///  44..47  TL / AL transfer length (Send) or allocation length (Receive), bytes
/// </code>
/// </summary>
public readonly record struct AuthenticationCommand(byte SecurityProtocol, byte Specific0, byte Specific1, uint Length)
{
    public const byte DhchapProtocol = 0xE9;

    /// <summary>SQE byte offsets, reported as the parameter in error when a field is wrong.</summary>
    public const ushort Specific0Offset = 41, Specific1Offset = 42, SecurityProtocolOffset = 43, LengthOffset = 44;

    public static AuthenticationCommand From(in SubmissionQueueEntry sqe) =>
        new((byte)(sqe.Cdw10 >> 24), (byte)(sqe.Cdw10 >> 8), (byte)(sqe.Cdw10 >> 16), sqe.Cdw11);

    /// <summary>The command for a DH-HMAC-CHAP message: Send when <paramref name="send"/>, else Receive.</summary>
    public static SubmissionQueueEntry Dhchap(bool send, uint length) => new()
    {
        Opcode = AdminOpcode.Fabrics,
        Flags = SubmissionQueueEntry.SglFlags,
        NamespaceId = send ? FabricsCommandType.AuthenticationSend : FabricsCommandType.AuthenticationReceive,
        Sgl = new SglDescriptor(0, length, SglDescriptor.DataBlockOffset),
        Cdw10 = (1u << 8) | (1u << 16) | ((uint)DhchapProtocol << 24),
        Cdw11 = length,
    };

    public bool IsDhchap => SecurityProtocol == DhchapProtocol && Specific0 == 1 && Specific1 == 1;
}
