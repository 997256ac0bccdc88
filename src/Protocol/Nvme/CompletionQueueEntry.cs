using System.Buffers.Binary;

namespace NovaStor.Protocol;

/// <summary>
/// A 16-byte completion queue entry (NVMe Base 2.0 figure 89), as carried in a CapsuleResp.
/// <code>
///  0..3    DW0   command specific result
///  4..7    DW1   command specific result
///  8..9    SQHD  submission queue head pointer
///  10..11  SQID  submission queue identifier
///  12..13  CID   command identifier
///  14..15  bit 0 phase tag, bits 15:1 status (SC, SCT, CRD, M, DNR)
/// </code>
/// </summary>
public readonly record struct CompletionQueueEntry(uint Dw0, uint Dw1, ushort SubmissionQueueHead, ushort SubmissionQueueId, ushort CommandId, NvmeStatus Status)
{
    public static CompletionQueueEntry Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(source),
        BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[8..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[10..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[12..]),
        new NvmeStatus((ushort)(BinaryPrimitives.ReadUInt16LittleEndian(source[14..]) >> 1)));

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Dw0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Dw1);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], SubmissionQueueHead);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], SubmissionQueueId);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[12..], CommandId);
        // The phase tag is meaningless over fabrics and sent as 0.
        BinaryPrimitives.WriteUInt16LittleEndian(destination[14..], (ushort)(Status.Value << 1));
    }
}
