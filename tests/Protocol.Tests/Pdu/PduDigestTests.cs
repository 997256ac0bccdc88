using System.Text;
using Xunit;
using static NovaStor.Protocol.Tests.Pdu.PduTestKit;

namespace NovaStor.Protocol.Tests.Pdu;

/// <summary>Header and data digests written by PduWriter and checked by PduFramer.</summary>
public sealed class PduDigestTests
{
    [Fact]
    public void DataDigestKnownAnswer()
    {
        byte[] digest = new byte[6];
        PduWriter.WriteDataDigest(digest, Encoding.ASCII.GetBytes("123456789"));
        Assert.Equal(0xE3069283u, U32(digest, 0));
        Assert.Equal(new byte[] { 0x83, 0x92, 0x06, 0xE3, 0, 0 }, digest);
    }

    /// <summary>One PDU of every header-digested kind, with the rules of its receiver.</summary>
    public static TheoryData<string> DigestedPdus() => new(Digested.Keys);

    private static readonly Dictionary<string, Func<(byte[] Pdu, PduFramingRules Rules)>> Digested = new()
    {
        ["CapsuleCmd"] = () => (CapsuleCommand(SampleCommand(1), [], true, true), ControllerRules(true, true)),
        ["CapsuleCmd+data"] = () => (CapsuleCommand(SampleCommand(2, 100), Pattern(100, 1), true, true), ControllerRules(true, true)),
        ["CapsuleCmd+data, no DDGST"] = () => (CapsuleCommand(SampleCommand(2, 100), Pattern(100, 1), true, false), ControllerRules(true, false)),
        ["H2CData"] = () => (H2CData(3, 4, 0, Pattern(512, 2), true, true, true), ControllerRules(true, true)),
        ["CapsuleResp"] = () => (CapsuleResponse(new CompletionQueueEntry(1, 2, 3, 4, 5, StatusCodes.InvalidOpcode), true), HostRules(true, true)),
        ["C2HData"] = () => (C2HData(6, 0, Pattern(256, 3), true, true, true, true), HostRules(true, true)),
        ["R2T"] = () => (ReadyToTransfer(new DataTransferHeader(7, 8, 0, 8192), true), HostRules(true, false)),
    };

    [Theory]
    [MemberData(nameof(DigestedPdus))]
    public void HeaderDigestFromWriterVerifies(string kind)
    {
        var (pdu, rules) = Digested[kind]();
        var header = PduHeader.Read(pdu);
        Assert.Equal(PduFlags.HeaderDigest, header.Flags & PduFlags.HeaderDigest);
        Assert.Equal(Crc32C.Compute(pdu.AsSpan(0, header.HeaderLength)), U32(pdu, header.HeaderLength));

        var framed = Frame(pdu, rules);
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.True(framed.Frame.DataDigestValid);
        Assert.Equal(pdu.Length, framed.Frame.Length);
    }

    [Theory]
    [MemberData(nameof(DigestedPdus))]
    public void FlippedHeaderDigestBitIsFatal(string kind)
    {
        var (pdu, rules) = Digested[kind]();
        int hlen = pdu[2];
        for (int bit = 0; bit < 32; bit++)
        {
            byte[] bad = (byte[])pdu.Clone();
            bad[hlen + (bit / 8)] ^= (byte)(1 << (bit % 8));
            var framed = Frame(bad, rules);
            AssertFatal(framed, FatalErrorStatus.HeaderDigestError, 0);
            AssertFatal(Frame(OneByteSegments(bad), rules), FatalErrorStatus.HeaderDigestError, 0);
        }
    }

    [Theory]
    [MemberData(nameof(DigestedPdus))]
    public void FlippedHeaderBitIsFatal(string kind)
    {
        // Bits after the common header (so that framing itself still passes) are covered by HDGST.
        var (pdu, rules) = Digested[kind]();
        int hlen = pdu[2];
        for (int at = PduSizes.CommonHeader; at < hlen; at += 5)
        {
            byte[] bad = (byte[])pdu.Clone();
            bad[at] ^= 0x10;
            AssertFatal(Frame(bad, rules), FatalErrorStatus.HeaderDigestError, 0);
        }
    }

    [Fact]
    public void HeaderDigestIsCheckedBeforeDatal()
    {
        // A corrupted DATAL under header digests is a header digest error, not an invalid field.
        byte[] pdu = H2CData(1, 2, 0, Pattern(64, 4), true, true, false);
        pdu[16] ^= 1;
        AssertFatal(Frame(pdu, ControllerRules(true, false)), FatalErrorStatus.HeaderDigestError, 0);
    }

    public static TheoryData<string> DataDigested() => new("CapsuleCmd+data", "H2CData", "C2HData");

    [Theory]
    [MemberData(nameof(DataDigested))]
    public void FlippedDataBitIsNotFatal(string kind)
    {
        var (pdu, rules) = Digested[kind]();
        var good = Frame(pdu, rules);
        Assert.Equal(FrameStatus.Complete, good.Status);
        Assert.True(good.Frame.DataDigestValid);
        int dataStart = good.Frame.DataOffset;
        int dataEnd = dataStart + good.Frame.DataLength;
        Assert.Equal(pdu.Length, dataEnd + 4);

        foreach (int at in new[] { dataStart, dataStart + 1, (dataStart + dataEnd) / 2, dataEnd - 1, dataEnd, dataEnd + 3 })
        {
            for (int bit = 0; bit < 8; bit += 3)
            {
                byte[] bad = (byte[])pdu.Clone();
                bad[at] ^= (byte)(1 << bit);
                foreach (var sequence in new[] { new System.Buffers.ReadOnlySequence<byte>(bad), OneByteSegments(bad), RandomSegments(bad, at, 13) })
                {
                    var framed = Frame(sequence, rules);
                    Assert.Equal(FrameStatus.Complete, framed.Status);
                    Assert.False(framed.Frame.DataDigestValid);
                    Assert.Equal(good.Frame, framed.Frame with { DataDigestValid = true });
                }
            }
        }
    }

    [Fact]
    public void DataDigestCoversDataOnlyNotPadding()
    {
        // CapsuleCmd with 8 pad bytes between the header and the data (PDO 80): padding is not digested.
        byte[] data = Pattern(40, 7);
        int plen = 80 + data.Length + 4;
        byte[] pdu = new byte[plen];
        PduWriter.WriteCapsuleCommandHeader(pdu, SampleCommand(9, 40), data.Length, false, true);
        new PduHeader(PduType.CapsuleCommand, PduFlags.DataDigest, 72, 80, (uint)plen).WriteTo(pdu);
        pdu.AsSpan(72, 8).Fill(0xEE);
        data.CopyTo(pdu, 80);
        PduWriter.WriteDataDigest(pdu.AsSpan(80 + data.Length), data);

        var framed = Frame(pdu, ControllerRules(false, true));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal(80, framed.Frame.DataOffset);
        Assert.Equal(40, framed.Frame.DataLength);
        Assert.True(framed.Frame.DataDigestValid);

        pdu[75] ^= 0xFF;
        Assert.True(Frame(pdu, ControllerRules(false, true)).Frame.DataDigestValid);
    }

    [Fact]
    public void TerminationRequestIsNeverDigested()
    {
        byte[] pdu = Termination(PduType.HostToControllerTerminationRequest, FatalErrorStatus.PduSequenceError, 0, Pattern(24, 1));
        Assert.Equal(0, pdu[1]);
        var framed = Frame(pdu, ControllerRules(true, true));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.True(framed.Frame.DataDigestValid);
        Assert.Equal(0, framed.Frame.DataLength);
    }
}
