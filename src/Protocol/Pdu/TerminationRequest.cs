using System.Buffers.Binary;

namespace NovaStor.Protocol;

/// <summary>
/// H2CTermReq / C2HTermReq: HLEN 24, never digested, PLEN 24..152.
/// <code>
///  0..7    common header (type 0x02 or 0x03)
///  8..9    FES   fatal error status
///  10..13  FEI   fatal error information: the byte offset of the bad field (FES 1),
///                or the offending value (FES 4, 5, 6)
///  14..23  reserved
///  24..    up to 128 bytes of the PDU header that caused the error
/// </code>
/// </summary>
public readonly record struct TerminationRequest(PduType Type, FatalErrorStatus Status, uint ErrorInformation)
{
    public static TerminationRequest Read(ReadOnlySpan<byte> pdu) => new(
        (PduType)pdu[0],
        (FatalErrorStatus)BinaryPrimitives.ReadUInt16LittleEndian(pdu[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(pdu[10..]));

    /// <summary>Writes the PDU, echoing up to 128 bytes of <paramref name="offendingHeader"/>; returns its length.</summary>
    public int WriteTo(Span<byte> pdu, ReadOnlySpan<byte> offendingHeader)
    {
        var echoed = offendingHeader[..Math.Min(offendingHeader.Length, PduSizes.TerminationRequestMax - PduSizes.TerminationRequestHeader)];
        int length = PduSizes.TerminationRequestHeader + echoed.Length;
        pdu[..PduSizes.TerminationRequestHeader].Clear();
        new PduHeader(Type, PduFlags.None, PduSizes.TerminationRequestHeader, 0, (uint)length).WriteTo(pdu);
        BinaryPrimitives.WriteUInt16LittleEndian(pdu[8..], (ushort)Status);
        BinaryPrimitives.WriteUInt32LittleEndian(pdu[10..], ErrorInformation);
        echoed.CopyTo(pdu[PduSizes.TerminationRequestHeader..]);
        return length;
    }
}
