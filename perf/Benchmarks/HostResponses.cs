using System.Buffers.Binary;
using NovaStor.Protocol;

namespace NovaStor.Benchmarks;

/// <summary>
/// What both benchmark hosts do with a framed PDU from the target: count a CapsuleResp (or a
/// C2HData whose SUCCESS flag completes its command), answer an R2T.
/// </summary>
internal static class HostResponses
{
    /// <summary>
    /// True for a successful CapsuleResp (a failed one throws) and for a C2HData flagged SUCCESS;
    /// for an R2T, writes the H2CData header into <paramref name="h2cHeader"/> and gives its length
    /// and the data range to send after it.
    /// </summary>
    public static bool Handle(PduType type, ReadOnlySpan<byte> header, Span<byte> h2cHeader, out int h2cHeaderLength, out Range h2cData)
    {
        h2cHeaderLength = 0;
        h2cData = default;
        if (type == PduType.ControllerToHostData)
        {
            return ((PduFlags)header[1] & PduFlags.Success) != 0;
        }

        if (type == PduType.CapsuleResponse)
        {
            // CQE status: bits 15:1 of bytes 22..23 (8 + 14).
            if ((BinaryPrimitives.ReadUInt16LittleEndian(header[(PduSizes.CommonHeader + 14)..]) >> 1) != 0)
            {
                throw new InvalidOperationException("a benchmark command failed");
            }

            return true;
        }

        if (type == PduType.ReadyToTransfer)
        {
            var r2t = DataTransferHeader.Read(header);
            var h2c = new DataTransferHeader(r2t.CommandId, r2t.TransferTag, r2t.DataOffset, r2t.DataLength);
            h2cHeaderLength = PduWriter.WriteDataHeader(h2cHeader, PduType.HostToControllerData, h2c, last: true, success: false, false, false);
            h2cData = new Range((int)r2t.DataOffset, (int)(r2t.DataOffset + r2t.DataLength));
        }

        return false;
    }
}
