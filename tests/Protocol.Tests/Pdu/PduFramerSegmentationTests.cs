using System.Buffers;
using Xunit;
using static NovaStor.Protocol.Tests.Pdu.PduTestKit;

namespace NovaStor.Protocol.Tests.Pdu;

/// <summary>
/// A stream of several PDUs, cut into segments everywhere: the framer must say Incomplete until
/// a whole PDU is present and then produce exactly the frame of the contiguous case.
/// </summary>
public sealed class PduFramerSegmentationTests
{
    private sealed record PduStream(byte[] Bytes, int[] Lengths, PduFramingRules Rules);

    /// <summary>Host to controller after initialization: capsules with and without data, H2CData, H2CTermReq.</summary>
    private static PduStream ControllerStream(bool headerDigest, bool dataDigest)
    {
        byte[][] pdus =
        [
            CapsuleCommand(SampleCommand(1), [], headerDigest, dataDigest),
            CapsuleCommand(SampleCommand(2, 37), Pattern(37, 2), headerDigest, dataDigest),
            H2CData(3, 0x11, 0, Pattern(64, 3), last: false, headerDigest, dataDigest),
            H2CData(3, 0x11, 64, Pattern(9, 4), last: true, headerDigest, dataDigest),
            CapsuleCommand(SampleCommand(4, 1), Pattern(1, 5), headerDigest, dataDigest),
            Termination(PduType.HostToControllerTerminationRequest, FatalErrorStatus.InvalidHeaderField, 2, Pattern(30, 6)),
        ];
        return new PduStream(Concat(pdus), pdus.Select(p => p.Length).ToArray(), ControllerRules(headerDigest, dataDigest));
    }

    /// <summary>Controller to host after initialization: CapsuleResp, R2T, C2HData, C2HTermReq.</summary>
    private static PduStream HostStream(bool headerDigest, bool dataDigest)
    {
        byte[][] pdus =
        [
            CapsuleResponse(new CompletionQueueEntry(1, 2, 3, 4, 5, StatusCodes.InvalidField), headerDigest),
            ReadyToTransfer(new DataTransferHeader(6, 7, 0, 4096), headerDigest),
            C2HData(8, 0, Pattern(45, 8), last: true, success: true, headerDigest, dataDigest),
            C2HData(9, 0, Pattern(3, 9), last: false, success: false, headerDigest, dataDigest),
            CapsuleResponse(new CompletionQueueEntry(0, 0, 4, 0, 9, NvmeStatus.Success), headerDigest),
            Termination(PduType.ControllerToHostTerminationRequest, FatalErrorStatus.HeaderDigestError, 0, []),
        ];
        return new PduStream(Concat(pdus), pdus.Select(p => p.Length).ToArray(), HostRules(headerDigest, dataDigest));
    }

    public static TheoryData<bool, bool, bool> Streams()
    {
        TheoryData<bool, bool, bool> data = new();
        foreach (bool host in new[] { false, true })
        {
            foreach (bool headerDigest in new[] { false, true })
            {
                foreach (bool dataDigest in new[] { false, true })
                {
                    data.Add(host, headerDigest, dataDigest);
                }
            }
        }

        return data;
    }

    private static PduStream Build(bool host, bool headerDigest, bool dataDigest) =>
        host ? HostStream(headerDigest, dataDigest) : ControllerStream(headerDigest, dataDigest);

    /// <summary>The frames of the contiguous stream, one per PDU.</summary>
    private static List<Framed> Reference(PduStream stream)
    {
        var frames = new List<Framed>();
        var buffer = new ReadOnlySequence<byte>(stream.Bytes);
        foreach (int length in stream.Lengths)
        {
            var framed = Frame(buffer, stream.Rules);
            Assert.Equal(FrameStatus.Complete, framed.Status);
            Assert.Equal(length, framed.Frame.Length);
            Assert.True(framed.Frame.DataDigestValid);
            frames.Add(framed);
            buffer = buffer.Slice(length);
        }

        Assert.Equal(0, buffer.Length);
        Assert.Equal(FrameStatus.Incomplete, Frame(buffer, stream.Rules).Status);
        return frames;
    }

    /// <summary>Frames the whole (segmented) stream PDU by PDU and compares with the contiguous frames and data.</summary>
    private static void FrameAll(PduStream stream, in ReadOnlySequence<byte> sequence, List<Framed> expected)
    {
        Assert.Equal(stream.Bytes.Length, sequence.Length);
        var buffer = sequence;
        int at = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            var framed = Frame(buffer, stream.Rules);
            AssertSame(expected[i], framed);
            if (framed.Frame.DataLength > 0)
            {
                Assert.Equal(
                    stream.Bytes.AsSpan(at + framed.Frame.DataOffset, framed.Frame.DataLength).ToArray(),
                    buffer.Slice(framed.Frame.DataOffset, framed.Frame.DataLength).ToArray());
            }

            buffer = buffer.Slice(framed.Frame.Length);
            at += framed.Frame.Length;
        }

        Assert.Equal(0, buffer.Length);
    }

    /// <summary>Every prefix of every PDU is Incomplete; the whole PDU alone, or with what follows, is Complete.</summary>
    private static void PrefixesAreIncomplete(PduStream stream, in ReadOnlySequence<byte> sequence, List<Framed> expected)
    {
        int at = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            int length = stream.Lengths[i];
            var rest = sequence.Slice(at);
            for (int available = 0; available < length; available++)
            {
                var partial = Frame(rest.Slice(0, available), stream.Rules);
                Assert.True(partial.Status == FrameStatus.Incomplete, $"PDU {i} with {available} of {length} bytes: {partial.Status} {partial.Error}");
            }

            AssertSame(expected[i], Frame(rest.Slice(0, length), stream.Rules));
            AssertSame(expected[i], Frame(rest, stream.Rules));
            at += length;
        }
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void ContiguousStreamFramesEachPdu(bool host, bool headerDigest, bool dataDigest)
    {
        var stream = Build(host, headerDigest, dataDigest);
        var expected = Reference(stream);
        for (int i = 0; i < expected.Count; i++)
        {
            var header = expected[i].Frame.Header;
            bool termination = header.Type is PduType.HostToControllerTerminationRequest or PduType.ControllerToHostTerminationRequest;
            Assert.Equal(headerDigest && !termination, (header.Flags & PduFlags.HeaderDigest) != 0);
            Assert.Equal(dataDigest && expected[i].Frame.DataLength > 0, (header.Flags & PduFlags.DataDigest) != 0);
        }

        PrefixesAreIncomplete(stream, new ReadOnlySequence<byte>(stream.Bytes), expected);
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void OneByteSegments(bool host, bool headerDigest, bool dataDigest)
    {
        var stream = Build(host, headerDigest, dataDigest);
        var expected = Reference(stream);
        var sequence = PduTestKit.OneByteSegments(stream.Bytes);
        Assert.False(sequence.IsSingleSegment);
        FrameAll(stream, sequence, expected);
        PrefixesAreIncomplete(stream, sequence, expected);
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void TwoSegmentsCutAtEveryByte(bool host, bool headerDigest, bool dataDigest)
    {
        var stream = Build(host, headerDigest, dataDigest);
        var expected = Reference(stream);
        for (int cut = 0; cut <= stream.Bytes.Length; cut++)
        {
            FrameAll(stream, SplitAt(stream.Bytes, cut), expected);
        }
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void ThreeSegmentsCutAroundEveryByte(bool host, bool headerDigest, bool dataDigest)
    {
        // A short middle segment at every position: exercises fields and digests straddling two boundaries.
        var stream = Build(host, headerDigest, dataDigest);
        var expected = Reference(stream);
        foreach (int middle in new[] { 1, 2, 3, 5, 7 })
        {
            for (int cut = 0; cut + middle <= stream.Bytes.Length; cut++)
            {
                FrameAll(stream, Chunked(stream.Bytes, [cut, middle]), expected);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void RandomSegments(bool host, bool headerDigest, bool dataDigest)
    {
        var stream = Build(host, headerDigest, dataDigest);
        var expected = Reference(stream);
        for (int seed = 0; seed < 50; seed++)
        {
            var sequence = PduTestKit.RandomSegments(stream.Bytes, seed, maxChunk: 1 + (seed % 40));
            FrameAll(stream, sequence, expected);
            if (seed % 10 == 0)
            {
                PrefixesAreIncomplete(stream, sequence, expected);
            }
        }
    }

    [Fact]
    public void InitializationThenCommandsAcrossSegments()
    {
        // ICReq framed under the before-initialization rules, then the rest under the negotiated ones.
        byte[] icreq = ICReq(DigestOptions.Header | DigestOptions.Data);
        var after = ControllerStream(headerDigest: true, dataDigest: true);
        byte[] all = Concat(icreq, after.Bytes);
        var expected = Reference(after);

        for (int seed = 0; seed < 20; seed++)
        {
            var sequence = PduTestKit.RandomSegments(all, seed, maxChunk: 17);
            for (int available = 0; available < 128; available++)
            {
                Assert.Equal(FrameStatus.Incomplete, Frame(sequence.Slice(0, available), PduFramingRules.BeforeInitialization(PduReceiver.Controller)).Status);
            }

            var first = Frame(sequence, PduFramingRules.BeforeInitialization(PduReceiver.Controller));
            Assert.Equal(FrameStatus.Complete, first.Status);
            Assert.Equal(PduType.InitializeConnectionRequest, first.Frame.Type);
            Assert.Equal(128, first.Frame.Length);
            Assert.Equal(new InitializeConnectionRequest(0, 0, DigestOptions.Header | DigestOptions.Data, 3), InitializeConnectionRequest.Read(first.Header));

            FrameAll(after, sequence.Slice(128), expected);
        }
    }

    [Fact]
    public void SegmentHelperBuildsTheSameBytes()
    {
        byte[] data = Pattern(100, 1);
        Assert.Equal(data, PduTestKit.OneByteSegments(data).ToArray());
        Assert.Equal(data, SplitAt(data, 0).ToArray());
        Assert.Equal(data, SplitAt(data, 100).ToArray());
        Assert.Equal(data, Chunked(data, [0, 3, 0, 0, 50]).ToArray());
        for (int seed = 0; seed < 10; seed++)
        {
            var sequence = PduTestKit.RandomSegments(data, seed, 9);
            Assert.Equal(data, sequence.ToArray());
            Assert.Equal(data[37..61], sequence.Slice(37, 24).ToArray());
        }
    }
}
