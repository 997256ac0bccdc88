using System.Buffers;
using System.Buffers.Binary;
using Xunit;

namespace NovaStor.Protocol.Tests.Pdu;

/// <summary>A segment of a hand-built multi-segment <see cref="ReadOnlySequence{T}"/>.</summary>
internal sealed class Chunk : ReadOnlySequenceSegment<byte>
{
    public Chunk(ReadOnlyMemory<byte> memory) => Memory = memory;

    public Chunk Append(ReadOnlyMemory<byte> memory)
    {
        var next = new Chunk(memory) { RunningIndex = RunningIndex + Memory.Length };
        Next = next;
        return next;
    }
}

/// <summary>The outcome of one <see cref="PduFramer.TryFrame"/> call, with a copy of the header it produced.</summary>
internal sealed record Framed(FrameStatus Status, PduFrame Frame, TransportError Error, byte[] Header);

/// <summary>Builders for PDUs, byte sequences split into segments, and framing rules.</summary>
internal static class PduTestKit
{
    public const uint InCapsuleLimit = 8192;
    public const uint DataLimit = 16384;

    public static PduFramingRules ControllerRules(bool headerDigest = false, bool dataDigest = false) =>
        new(PduReceiver.Controller, true, headerDigest, dataDigest, InCapsuleLimit, DataLimit);

    public static PduFramingRules HostRules(bool headerDigest = false, bool dataDigest = false) =>
        new(PduReceiver.Host, true, headerDigest, dataDigest, 0, DataLimit);

    // -------------------------------------------------------------------------------------
    // Sequences
    // -------------------------------------------------------------------------------------

    /// <summary>A sequence of <paramref name="data"/> cut into chunks of the given sizes (zero sizes make empty segments).</summary>
    public static ReadOnlySequence<byte> Chunked(ReadOnlyMemory<byte> data, IEnumerable<int> sizes)
    {
        Chunk? first = null;
        Chunk? last = null;
        int at = 0;
        foreach (int size in sizes)
        {
            var piece = data.Slice(at, size);
            at += size;
            if (first is null)
            {
                first = last = new Chunk(piece);
            }
            else
            {
                last = last!.Append(piece);
            }
        }

        if (at != data.Length)
        {
            var rest = data[at..];
            if (first is null)
            {
                first = last = new Chunk(rest);
            }
            else
            {
                last = last!.Append(rest);
            }
        }

        if (first is null || last is null)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    public static ReadOnlySequence<byte> OneByteSegments(ReadOnlyMemory<byte> data) =>
        Chunked(data, Enumerable.Repeat(1, data.Length));

    /// <summary>Two segments, cut before byte <paramref name="cut"/>.</summary>
    public static ReadOnlySequence<byte> SplitAt(ReadOnlyMemory<byte> data, int cut) => Chunked(data, [cut, data.Length - cut]);

    /// <summary>Random chunk sizes in [0, <paramref name="maxChunk"/>]; zero-length segments included on purpose.</summary>
    public static ReadOnlySequence<byte> RandomSegments(ReadOnlyMemory<byte> data, int seed, int maxChunk)
    {
        var random = new Random(seed);
        var sizes = new List<int>();
        int left = data.Length;
        while (left > 0)
        {
            int size = Math.Min(left, random.Next(0, maxChunk + 1));
            sizes.Add(size);
            left -= size;
        }

        return Chunked(data, sizes);
    }

    public static byte[] Concat(params byte[][] parts)
    {
        byte[] all = new byte[parts.Sum(p => p.Length)];
        int at = 0;
        foreach (byte[] part in parts)
        {
            part.CopyTo(all, at);
            at += part.Length;
        }

        return all;
    }

    public static byte[] Pattern(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    // -------------------------------------------------------------------------------------
    // Framing
    // -------------------------------------------------------------------------------------

    public static Framed Frame(in ReadOnlySequence<byte> buffer, in PduFramingRules rules)
    {
        byte[] header = new byte[PduFramer.MaxHeaderLength];
        var status = PduFramer.TryFrame(buffer, rules, header, out var frame, out var error);
        return new Framed(status, frame, error, header);
    }

    public static Framed Frame(byte[] buffer, in PduFramingRules rules) => Frame(new ReadOnlySequence<byte>(buffer), rules);

    public static void AssertSame(Framed expected, Framed actual)
    {
        Assert.Equal(expected.Status, actual.Status);
        Assert.Equal(expected.Frame, actual.Frame);
        Assert.Equal(expected.Error.Status, actual.Error.Status);
        Assert.Equal(expected.Error.Information, actual.Error.Information);
        Assert.Equal(expected.Header.AsSpan(0, expected.Frame.Header.HeaderLength).ToArray(), actual.Header.AsSpan(0, actual.Frame.Header.HeaderLength).ToArray());
    }

    public static void AssertFatal(Framed framed, FatalErrorStatus status, uint information)
    {
        Assert.Equal(FrameStatus.Fatal, framed.Status);
        Assert.Equal(status, framed.Error.Status);
        Assert.Equal(information, framed.Error.Information);
        Assert.False(string.IsNullOrEmpty(framed.Error.Reason));
    }

    // -------------------------------------------------------------------------------------
    // PDUs (through PduWriter and the record structs' WriteTo)
    // -------------------------------------------------------------------------------------

    public static SubmissionQueueEntry SampleCommand(ushort commandId, uint dataLength = 0) => new()
    {
        Opcode = IoOpcode.Write,
        Flags = SubmissionQueueEntry.SglFlags,
        CommandId = commandId,
        NamespaceId = 1,
        Sgl = dataLength > 0
            ? new SglDescriptor(0, dataLength, SglDescriptor.DataBlockOffset)
            : new SglDescriptor(0, 0, SglDescriptor.TransportDataBlock),
        Cdw10 = 0x1000 + (uint)commandId,
        Cdw12 = 7,
    };

    public static byte[] CapsuleCommand(in SubmissionQueueEntry command, byte[] data, bool headerDigest, bool dataDigest)
    {
        byte[] pdu = new byte[PduWriter.MaxHeaderWithDigest + data.Length + PduSizes.Digest];
        int at = PduWriter.WriteCapsuleCommandHeader(pdu, command, data.Length, headerDigest, dataDigest);
        data.CopyTo(pdu, at);
        at += data.Length;
        if (dataDigest && data.Length > 0)
        {
            PduWriter.WriteDataDigest(pdu.AsSpan(at), data);
            at += PduSizes.Digest;
        }

        return Trimmed(pdu, at);
    }

    public static byte[] DataPdu(PduType type, in DataTransferHeader transfer, byte[] data, bool last, bool success, bool headerDigest, bool dataDigest)
    {
        byte[] pdu = new byte[PduWriter.MaxHeaderWithDigest + data.Length + PduSizes.Digest];
        int at = PduWriter.WriteDataHeader(pdu, type, transfer, last, success, headerDigest, dataDigest);
        data.CopyTo(pdu, at);
        at += data.Length;
        if (dataDigest)
        {
            PduWriter.WriteDataDigest(pdu.AsSpan(at), data);
            at += PduSizes.Digest;
        }

        return Trimmed(pdu, at);
    }

    public static byte[] H2CData(ushort commandId, ushort tag, uint offset, byte[] data, bool last, bool headerDigest, bool dataDigest) =>
        DataPdu(PduType.HostToControllerData, new DataTransferHeader(commandId, tag, offset, (uint)data.Length), data, last, false, headerDigest, dataDigest);

    public static byte[] C2HData(ushort commandId, uint offset, byte[] data, bool last, bool success, bool headerDigest, bool dataDigest) =>
        DataPdu(PduType.ControllerToHostData, new DataTransferHeader(commandId, 0, offset, (uint)data.Length), data, last, success, headerDigest, dataDigest);

    public static byte[] CapsuleResponse(in CompletionQueueEntry completion, bool headerDigest)
    {
        byte[] pdu = new byte[PduWriter.MaxHeaderWithDigest];
        return Trimmed(pdu, PduWriter.WriteCapsuleResponse(pdu, completion, headerDigest));
    }

    public static byte[] ReadyToTransfer(in DataTransferHeader request, bool headerDigest)
    {
        byte[] pdu = new byte[PduWriter.MaxHeaderWithDigest];
        return Trimmed(pdu, PduWriter.WriteReadyToTransfer(pdu, request, headerDigest));
    }

    public static byte[] Termination(PduType type, FatalErrorStatus status, uint information, byte[] offendingHeader)
    {
        byte[] pdu = new byte[PduSizes.TerminationRequestMax];
        return Trimmed(pdu, new TerminationRequest(type, status, information).WriteTo(pdu, offendingHeader));
    }

    public static byte[] ICReq(DigestOptions digests = DigestOptions.None)
    {
        byte[] pdu = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionRequest(0, 0, digests, 3).WriteTo(pdu);
        return pdu;
    }

    public static byte[] ICResp(DigestOptions digests = DigestOptions.None)
    {
        byte[] pdu = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionResponse(0, 0, digests, 131072).WriteTo(pdu);
        return pdu;
    }

    /// <summary>
    /// <paramref name="size"/> bytes starting with the given common header, the rest zero;
    /// a valid header digest after HLEN when <paramref name="headerDigest"/> and there is room.
    /// </summary>
    public static byte[] Raw(byte type, PduFlags flags, byte headerLength, byte dataOffset, uint pduLength, int size, bool headerDigest = false)
    {
        byte[] pdu = new byte[size];
        new PduHeader((PduType)type, flags, headerLength, dataOffset, pduLength).WriteTo(pdu);
        if (headerDigest)
        {
            SealHeaderDigest(pdu, headerLength);
        }

        return pdu;
    }

    /// <summary>Recomputes the header digest after <paramref name="headerLength"/> bytes.</summary>
    public static void SealHeaderDigest(byte[] pdu, int headerLength) =>
        BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(headerLength), Crc32C.Compute(pdu.AsSpan(0, headerLength)));

    public static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    public static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    public static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    private static byte[] Trimmed(byte[] pdu, int length)
    {
        // Every PDU the writers produce is exactly PLEN bytes long.
        Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(pdu.AsSpan(PduHeader.PduLengthOffset)));
        return pdu.AsSpan(0, length).ToArray();
    }
}
