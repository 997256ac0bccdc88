using System.Buffers.Binary;
using System.Text;

namespace NovaStor.Protocol;

/// <summary>
/// The Fabrics Connect command's own fields (NVMe over Fabrics 1.1 figure 20), in the SQE:
/// <code>
///  40..41  RECFMT  record format, 0
///  42..43  QID     0 admin queue, otherwise an I/O queue
///  44..45  SQSIZE  submission queue size, 0-based (0 is invalid)
///  46      CATTR   bit 2: disable SQ flow control
///  48..51  KATO    keep-alive timeout in milliseconds (admin queue only)
/// </code>
/// </summary>
public readonly record struct ConnectCommand(ushort RecordFormat, ushort QueueId, ushort SubmissionQueueSize, byte Attributes, uint KeepAliveTimeoutMs)
{
    public const byte DisableSqFlowControl = 0x04;

    /// <summary>Byte offsets in the SQE, reported in IATTR/IPO when a field is invalid.</summary>
    public const ushort QueueIdOffset = 42, SubmissionQueueSizeOffset = 44, KeepAliveOffset = 48;

    public bool SqFlowControlDisabled => (Attributes & DisableSqFlowControl) != 0;

    public static ConnectCommand From(in SubmissionQueueEntry sqe) => new(
        (ushort)sqe.Cdw10,
        (ushort)(sqe.Cdw10 >> 16),
        (ushort)sqe.Cdw11,
        (byte)(sqe.Cdw11 >> 16),
        sqe.Cdw12);

    public SubmissionQueueEntry ToSubmissionQueueEntry(ushort commandId, uint dataLength) => new()
    {
        Opcode = AdminOpcode.Fabrics,
        Flags = SubmissionQueueEntry.SglFlags,
        CommandId = commandId,
        NamespaceId = FabricsCommandType.Connect,
        Sgl = new SglDescriptor(0, dataLength, SglDescriptor.DataBlockOffset),
        Cdw10 = RecordFormat | ((uint)QueueId << 16),
        Cdw11 = SubmissionQueueSize | ((uint)Attributes << 16),
        Cdw12 = KeepAliveTimeoutMs,
    };
}

/// <summary>
/// The Connect response's DW0 (NVMe over Fabrics 1.1a figure "Connect response"):
/// <code>
///  15:0   CNTLID   the controller the queue belongs to
///  17:16  AUTHREQ  bit 17 ATR: authentication (DH-HMAC-CHAP) required on this queue;
///                  bit 18 ASCR: authentication with secure channel (not used here)
/// </code>
/// </summary>
public static class ConnectResponse
{
    public const uint AuthenticationRequired = 1u << 17;
    public const uint SecureChannelRequired = 1u << 18;

    /// <summary>
    /// SQHD of a Connect completion whose controller agreed to disable SQ flow control (TP 8005):
    /// it leaves SQHD out of the queue's completions from then on.
    /// </summary>
    public const ushort SqFlowControlDisabledHead = 0xFFFF;

    /// <summary>True when a Connect completion says the controller disabled SQ flow control on its queue.</summary>
    public static bool DisablesSqFlowControl(in CompletionQueueEntry completion) => completion.SubmissionQueueHead == SqFlowControlDisabledHead;

    public static uint Of(ushort controllerId, bool authenticationRequired) => controllerId | (authenticationRequired ? AuthenticationRequired : 0);

    public static ushort ControllerId(uint dw0) => (ushort)dw0;

    public static bool RequiresAuthentication(uint dw0) => (dw0 & (AuthenticationRequired | SecureChannelRequired)) != 0;
}

/// <summary>
/// The 1024-byte data of a Connect command (NVMe over Fabrics 1.1 figure 21).
/// <code>
///  0..15     HOSTID   host identifier
///  16..17    CNTLID   0xFFFF asks for a dynamic controller; otherwise the controller to join
///  256..511  SUBNQN   NUL-terminated UTF-8
///  512..767  HOSTNQN  NUL-terminated UTF-8
/// </code>
/// </summary>
public sealed record ConnectData(Guid HostId, ushort ControllerId, string SubsystemNqn, string HostNqn)
{
    public const int Length = 1024;
    public const int HostIdOffset = 0, ControllerIdOffset = 16, SubsystemNqnOffset = 256, HostNqnOffset = 512;
    public const int NqnFieldLength = 256;
    public const ushort DynamicControllerId = 0xFFFF;

    public static ConnectData Read(ReadOnlySpan<byte> data)
    {
        data = data[..Length];
        return new ConnectData(
            new Guid(data[..16], bigEndian: true),
            BinaryPrimitives.ReadUInt16LittleEndian(data[16..]),
            ReadNqn(data.Slice(SubsystemNqnOffset, NqnFieldLength)),
            ReadNqn(data.Slice(HostNqnOffset, NqnFieldLength)));
    }

    public void WriteTo(Span<byte> data)
    {
        data = data[..Length];
        data.Clear();
        HostId.TryWriteBytes(data[..16], bigEndian: true, out _);
        BinaryPrimitives.WriteUInt16LittleEndian(data[16..], ControllerId);
        WriteNqn(data.Slice(SubsystemNqnOffset, NqnFieldLength - 1), SubsystemNqn);
        WriteNqn(data.Slice(HostNqnOffset, NqnFieldLength - 1), HostNqn);
    }

    private static string ReadNqn(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    private static void WriteNqn(Span<byte> field, string nqn)
    {
        if (!Encoding.UTF8.TryGetBytes(nqn, field, out _))
        {
            throw new ArgumentException($"NQN longer than {field.Length} bytes: {nqn}", nameof(nqn));
        }
    }
}
