using System.Buffers.Binary;

namespace NovaStor.Protocol;

/// <summary>
/// A 64-byte submission queue entry (NVMe Base 2.0 figure 88), as carried in a CapsuleCmd.
/// <code>
///  0       OPC   opcode
///  1       FUSE bits 1:0, PSDT bits 7:6 (always 01b, SGL, over fabrics)
///  2..3    CID   command identifier
///  4..7    NSID  (Fabrics commands: byte 4 is FCTYPE)
///  8..15   CDW2, CDW3
///  16..23  MPTR  metadata pointer
///  24..39  DPTR  SGL descriptor 1
///  40..63  CDW10 .. CDW15
/// </code>
/// Fabrics commands reuse CDW10.. for their own fields; see the accessors below.
/// </summary>
public struct SubmissionQueueEntry
{
    public byte Opcode;
    public byte Flags;
    public ushort CommandId;
    public uint NamespaceId;
    public uint Cdw2;
    public uint Cdw3;
    public ulong MetadataPointer;
    public SglDescriptor Sgl;
    public uint Cdw10;
    public uint Cdw11;
    public uint Cdw12;
    public uint Cdw13;
    public uint Cdw14;
    public uint Cdw15;

    /// <summary>PSDT (bits 7:6 of byte 1): 0 PRP, 1 SGL with contiguous metadata, 2 SGL with metadata SGL.</summary>
    public readonly int DataTransferType => Flags >> 6;

    /// <summary>FCTYPE of a Fabrics command (opcode 0x7F): byte 4.</summary>
    public readonly byte FabricsCommandType => (byte)NamespaceId;

    public static SubmissionQueueEntry Read(ReadOnlySpan<byte> source)
    {
        source = source[..PduSizes.SubmissionQueueEntry];
        return new SubmissionQueueEntry
        {
            Opcode = source[0],
            Flags = source[1],
            CommandId = BinaryPrimitives.ReadUInt16LittleEndian(source[2..]),
            NamespaceId = BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
            Cdw2 = BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
            Cdw3 = BinaryPrimitives.ReadUInt32LittleEndian(source[12..]),
            MetadataPointer = BinaryPrimitives.ReadUInt64LittleEndian(source[16..]),
            Sgl = SglDescriptor.Read(source[24..]),
            Cdw10 = BinaryPrimitives.ReadUInt32LittleEndian(source[40..]),
            Cdw11 = BinaryPrimitives.ReadUInt32LittleEndian(source[44..]),
            Cdw12 = BinaryPrimitives.ReadUInt32LittleEndian(source[48..]),
            Cdw13 = BinaryPrimitives.ReadUInt32LittleEndian(source[52..]),
            Cdw14 = BinaryPrimitives.ReadUInt32LittleEndian(source[56..]),
            Cdw15 = BinaryPrimitives.ReadUInt32LittleEndian(source[60..]),
        };
    }

    public readonly void WriteTo(Span<byte> destination)
    {
        destination = destination[..PduSizes.SubmissionQueueEntry];
        destination[0] = Opcode;
        destination[1] = Flags;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], CommandId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], NamespaceId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Cdw2);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Cdw3);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], MetadataPointer);
        Sgl.WriteTo(destination[24..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[40..], Cdw10);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[44..], Cdw11);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[48..], Cdw12);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[52..], Cdw13);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[56..], Cdw14);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[60..], Cdw15);
    }

    /// <summary>PSDT = 01b (SGL), the only form NVMe over Fabrics allows.</summary>
    public const byte SglFlags = 0x40;
}
