using System.Buffers.Binary;

namespace NovaStor.Protocol;

/// <summary>
/// The common header that starts every PDU.
/// <code>
///  byte 0     1      2     3     4..7
///  +------+-------+------+-----+-----------+
///  | type | flags | HLEN | PDO | PLEN (LE) |
///  +------+-------+------+-----+-----------+
/// </code>
/// HLEN is the PDU-specific header length (without digest), PDO the offset of the data from
/// the start of the PDU (0 when there is none), PLEN the total length including digests.
/// </summary>
public readonly record struct PduHeader(PduType Type, PduFlags Flags, byte HeaderLength, byte DataOffset, uint PduLength)
{
    /// <summary>Byte offsets of the fields, used as FEI in termination requests.</summary>
    public const int TypeOffset = 0, FlagsOffset = 1, HeaderLengthOffset = 2, DataOffsetOffset = 3, PduLengthOffset = 4;

    public static PduHeader Read(ReadOnlySpan<byte> source) => new(
        (PduType)source[0],
        (PduFlags)source[1],
        source[2],
        source[3],
        BinaryPrimitives.ReadUInt32LittleEndian(source[4..]));

    public void WriteTo(Span<byte> destination)
    {
        destination[0] = (byte)Type;
        destination[1] = (byte)Flags;
        destination[2] = HeaderLength;
        destination[3] = DataOffset;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], PduLength);
    }
}
