using System.Buffers.Binary;

namespace NovaStor.Protocol;

/// <summary>Digest selection bits of ICReq/ICResp DGST (byte 11).</summary>
[Flags]
public enum DigestOptions : byte
{
    None = 0,
    Header = 0x01,
    Data = 0x02,
}

/// <summary>
/// ICReq, host to controller, HLEN = PLEN = 128.
/// <code>
///  0..7   common header (type 0x00)
///  8..9   PFV     PDU format version, 0
///  10     HPDA    host PDU data alignment, in dwords, 0-based
///  11     DGST    bit0 header digest, bit1 data digest
///  12..15 MAXR2T  maximum outstanding R2Ts per command, 0-based
///  16..127 reserved
/// </code>
/// </summary>
public readonly record struct InitializeConnectionRequest(ushort FormatVersion, byte HostDataAlignment, DigestOptions Digests, uint MaxR2T)
{
    public const int FormatVersionOffset = 8, HostDataAlignmentOffset = 10, DigestOffset = 11, MaxR2TOffset = 12;

    public static InitializeConnectionRequest Read(ReadOnlySpan<byte> pdu) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(pdu[8..]),
        pdu[10],
        (DigestOptions)pdu[11],
        BinaryPrimitives.ReadUInt32LittleEndian(pdu[12..]));

    public void WriteTo(Span<byte> pdu)
    {
        pdu[..PduSizes.InitializeConnection].Clear();
        new PduHeader(PduType.InitializeConnectionRequest, PduFlags.None, PduSizes.InitializeConnection, 0, PduSizes.InitializeConnection).WriteTo(pdu);
        BinaryPrimitives.WriteUInt16LittleEndian(pdu[8..], FormatVersion);
        pdu[10] = HostDataAlignment;
        pdu[11] = (byte)Digests;
        BinaryPrimitives.WriteUInt32LittleEndian(pdu[12..], MaxR2T);
    }
}

/// <summary>
/// ICResp, controller to host, HLEN = PLEN = 128.
/// <code>
///  0..7   common header (type 0x01)
///  8..9   PFV         0
///  10     CPDA        controller PDU data alignment; the Linux host requires 0
///  11     DGST        exactly the digests the host asked for
///  12..15 MAXH2CDATA  largest H2CData payload the controller accepts (multiple of 4, >= 4096)
///  16..127 reserved
/// </code>
/// </summary>
public readonly record struct InitializeConnectionResponse(ushort FormatVersion, byte ControllerDataAlignment, DigestOptions Digests, uint MaxH2CData)
{
    public static InitializeConnectionResponse Read(ReadOnlySpan<byte> pdu) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(pdu[8..]),
        pdu[10],
        (DigestOptions)pdu[11],
        BinaryPrimitives.ReadUInt32LittleEndian(pdu[12..]));

    public void WriteTo(Span<byte> pdu)
    {
        pdu[..PduSizes.InitializeConnection].Clear();
        new PduHeader(PduType.InitializeConnectionResponse, PduFlags.None, PduSizes.InitializeConnection, 0, PduSizes.InitializeConnection).WriteTo(pdu);
        BinaryPrimitives.WriteUInt16LittleEndian(pdu[8..], FormatVersion);
        pdu[10] = ControllerDataAlignment;
        pdu[11] = (byte)Digests;
        BinaryPrimitives.WriteUInt32LittleEndian(pdu[12..], MaxH2CData);
    }
}
