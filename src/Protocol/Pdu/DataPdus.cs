using System.Buffers.Binary;

namespace NovaStor.Protocol;

/// <summary>
/// The PDU-specific part shared by H2CData (0x06), C2HData (0x07) and R2T (0x09); HLEN 24.
/// <code>
///  0..7    common header
///  8..9    CCCID  command capsule CID the data belongs to
///  10..11  TTAG   transfer tag from the R2T (H2CData, R2T); reserved in C2HData
///  12..15  DATAO  offset of this data within the command's transfer (R2TO in an R2T)
///  16..19  DATAL  bytes of data in this PDU (R2TL in an R2T: bytes requested)
///  20..23  reserved
/// </code>
/// </summary>
public readonly record struct DataTransferHeader(ushort CommandId, ushort TransferTag, uint DataOffset, uint DataLength)
{
    public const int CommandIdOffset = 8, TransferTagOffset = 10, DataOffsetOffset = 12, DataLengthOffset = 16;

    public static DataTransferHeader Read(ReadOnlySpan<byte> pdu) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(pdu[8..]),
        BinaryPrimitives.ReadUInt16LittleEndian(pdu[10..]),
        BinaryPrimitives.ReadUInt32LittleEndian(pdu[12..]),
        BinaryPrimitives.ReadUInt32LittleEndian(pdu[16..]));

    /// <summary>Writes the 24-byte header (without digest) of a data or R2T PDU.</summary>
    public void WriteTo(Span<byte> pdu, PduType type, PduFlags flags, byte dataOffset, uint pduLength)
    {
        pdu[..PduSizes.DataHeader].Clear();
        new PduHeader(type, flags, PduSizes.DataHeader, dataOffset, pduLength).WriteTo(pdu);
        BinaryPrimitives.WriteUInt16LittleEndian(pdu[8..], CommandId);
        BinaryPrimitives.WriteUInt16LittleEndian(pdu[10..], TransferTag);
        BinaryPrimitives.WriteUInt32LittleEndian(pdu[12..], DataOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(pdu[16..], DataLength);
    }
}
