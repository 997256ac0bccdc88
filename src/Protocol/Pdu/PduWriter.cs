using System.Buffers.Binary;

namespace NovaStor.Protocol;

/// <summary>
/// Writes the fixed-size PDUs a peer sends, with the header digest when negotiated.
/// Each method returns the number of bytes written. Data and its digest are appended by the
/// caller, which owns the data buffer (no copy here).
/// </summary>
public static class PduWriter
{
    /// <summary>Largest header (with digest) that the methods below write.</summary>
    public const int MaxHeaderWithDigest = PduSizes.CapsuleCommandHeader + PduSizes.Digest;

    /// <summary>CapsuleResp: common header, CQE at byte 8.</summary>
    public static int WriteCapsuleResponse(Span<byte> destination, in CompletionQueueEntry completion, bool headerDigest)
    {
        int length = PduSizes.CapsuleResponse + (headerDigest ? PduSizes.Digest : 0);
        new PduHeader(PduType.CapsuleResponse, headerDigest ? PduFlags.HeaderDigest : PduFlags.None, PduSizes.CapsuleResponse, 0, (uint)length).WriteTo(destination);
        completion.WriteTo(destination[PduSizes.CommonHeader..]);
        return AppendHeaderDigest(destination, PduSizes.CapsuleResponse, headerDigest);
    }

    /// <summary>CapsuleCmd header: common header, SQE at byte 8; <paramref name="inCapsuleDataLength"/> bytes follow.</summary>
    public static int WriteCapsuleCommandHeader(Span<byte> destination, in SubmissionQueueEntry command, int inCapsuleDataLength, bool headerDigest, bool dataDigest)
    {
        int headerEnd = PduSizes.CapsuleCommandHeader + (headerDigest ? PduSizes.Digest : 0);
        bool hasData = inCapsuleDataLength > 0;
        var flags = (headerDigest ? PduFlags.HeaderDigest : PduFlags.None) | (hasData && dataDigest ? PduFlags.DataDigest : PduFlags.None);
        uint length = (uint)(headerEnd + inCapsuleDataLength + (hasData && dataDigest ? PduSizes.Digest : 0));
        new PduHeader(PduType.CapsuleCommand, flags, PduSizes.CapsuleCommandHeader, hasData ? (byte)headerEnd : (byte)0, length).WriteTo(destination);
        command.WriteTo(destination[PduSizes.CommonHeader..]);
        return AppendHeaderDigest(destination, PduSizes.CapsuleCommandHeader, headerDigest);
    }

    /// <summary>C2HData or H2CData header; <c>transfer.DataLength</c> data bytes follow (then the data digest).</summary>
    public static int WriteDataHeader(Span<byte> destination, PduType type, in DataTransferHeader transfer, bool last, bool success, bool headerDigest, bool dataDigest)
    {
        int headerEnd = PduSizes.DataHeader + (headerDigest ? PduSizes.Digest : 0);
        var flags = (headerDigest ? PduFlags.HeaderDigest : PduFlags.None)
            | (dataDigest ? PduFlags.DataDigest : PduFlags.None)
            | (last ? PduFlags.LastPdu : PduFlags.None)
            | (success ? PduFlags.Success : PduFlags.None);
        uint length = (uint)headerEnd + transfer.DataLength + (dataDigest ? PduSizes.Digest : 0u);
        transfer.WriteTo(destination, type, flags, (byte)headerEnd, length);
        return AppendHeaderDigest(destination, PduSizes.DataHeader, headerDigest);
    }

    /// <summary>R2T: asks the host for <c>DataLength</c> bytes at <c>DataOffset</c> of command <c>CommandId</c>.</summary>
    public static int WriteReadyToTransfer(Span<byte> destination, in DataTransferHeader request, bool headerDigest)
    {
        int length = PduSizes.ReadyToTransfer + (headerDigest ? PduSizes.Digest : 0);
        request.WriteTo(destination, PduType.ReadyToTransfer, headerDigest ? PduFlags.HeaderDigest : PduFlags.None, 0, (uint)length);
        return AppendHeaderDigest(destination, PduSizes.ReadyToTransfer, headerDigest);
    }

    /// <summary>Writes the data digest of <paramref name="data"/> (little endian).</summary>
    public static void WriteDataDigest(Span<byte> destination, ReadOnlySpan<byte> data) =>
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Crc32C.Compute(data));

    private static int AppendHeaderDigest(Span<byte> destination, int headerLength, bool headerDigest)
    {
        if (!headerDigest)
        {
            return headerLength;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(destination[headerLength..], Crc32C.Compute(destination[..headerLength]));
        return headerLength + PduSizes.Digest;
    }
}
