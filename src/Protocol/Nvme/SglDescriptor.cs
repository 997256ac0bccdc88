using System.Buffers.Binary;

namespace NovaStor.Protocol;

/// <summary>
/// An SGL descriptor (16 bytes, NVMe Base 2.0 section 4.1.8), as carried in DPTR.
/// <code>
///  0..7    address (for the offset subtype: offset into the in-capsule data)
///  8..11   length in bytes
///  12..14  reserved
///  15      identifier: type in bits 7:4, subtype in bits 3:0
/// </code>
/// </summary>
public readonly record struct SglDescriptor(ulong Address, uint Length, byte Identifier)
{
    /// <summary>Data block, offset subtype: the data travels in the command capsule (in-capsule).</summary>
    public const byte DataBlockOffset = 0x01;
    /// <summary>Transport SGL data block, transport-specific subtype: data moves by R2T/H2CData or C2HData.</summary>
    public const byte TransportDataBlock = 0x5A;

    public static SglDescriptor Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(source),
        BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
        source[15]);

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Address);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Length);
        destination[12] = 0;
        destination[13] = 0;
        destination[14] = 0;
        destination[15] = Identifier;
    }
}
