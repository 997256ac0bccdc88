using System.Buffers;
using System.Buffers.Binary;
using Xunit;
using static NovaStor.Protocol.Tests.Pdu.PduTestKit;

namespace NovaStor.Protocol.Tests.Pdu;

/// <summary>
/// <see cref="PduFramer.TryFrameHeader"/>: what a receiver may act on before a PDU's data has
/// arrived (to receive a large payload straight into place). The header is checked exactly as a
/// whole PDU's would be.
/// </summary>
public sealed class PduFramerHeaderOnlyTests
{
    private static (FrameStatus Status, PduFrame Frame, TransportError Error, bool DataDigest, byte[] Header) FrameHeader(byte[] bytes, int length, in PduFramingRules rules)
    {
        byte[] header = new byte[PduFramer.MaxHeaderLength];
        var status = PduFramer.TryFrameHeader(new ReadOnlySequence<byte>(bytes, 0, length), rules, header, out var frame, out var error, out bool dataDigest);
        return (status, frame, error, dataDigest, header);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void An_h2c_header_is_complete_as_soon_as_its_header_and_digest_are_in(bool headerDigest, bool dataDigest)
    {
        byte[] data = Pattern(16000, 1);
        byte[] pdu = H2CData(3, 0x11, 4096, data, last: true, headerDigest, dataDigest);
        var rules = ControllerRules(headerDigest, dataDigest);
        int headerEnd = PduSizes.DataHeader + (headerDigest ? PduSizes.Digest : 0);
        for (int n = 0; n < headerEnd; n++)
        {
            Assert.Equal(FrameStatus.Incomplete, FrameHeader(pdu, n, rules).Status);
        }

        var whole = Frame(pdu, rules);
        foreach (int n in (int[])[headerEnd, headerEnd + 1, pdu.Length - 1, pdu.Length])
        {
            var framed = FrameHeader(pdu, n, rules);
            Assert.Equal(FrameStatus.Complete, framed.Status);
            Assert.Equal(whole.Frame.Header, framed.Frame.Header);
            Assert.Equal(whole.Frame.DataOffset, framed.Frame.DataOffset);
            Assert.Equal(whole.Frame.DataLength, framed.Frame.DataLength);
            Assert.Equal(dataDigest, framed.DataDigest);
            Assert.Equal(new DataTransferHeader(3, 0x11, 4096, (uint)data.Length), DataTransferHeader.Read(framed.Header));
        }
    }

    [Fact]
    public void A_bad_header_digest_is_fatal_once_the_header_is_in()
    {
        byte[] pdu = H2CData(3, 0x11, 0, Pattern(16000, 2), last: true, headerDigest: true, dataDigest: false);
        pdu[PduSizes.DataHeader] ^= 0x40;
        var framed = FrameHeader(pdu, PduSizes.DataHeader + PduSizes.Digest, ControllerRules(headerDigest: true));
        Assert.Equal(FrameStatus.Fatal, framed.Status);
        Assert.Equal(FatalErrorStatus.HeaderDigestError, framed.Error.Status);
    }

    [Fact]
    public void Datal_disagreeing_with_plen_is_fatal_from_the_header()
    {
        byte[] pdu = H2CData(3, 0x11, 0, Pattern(16000, 3), last: true, headerDigest: false, dataDigest: false);
        BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(DataTransferHeader.DataLengthOffset), 15999);
        var framed = FrameHeader(pdu, PduSizes.DataHeader, ControllerRules());
        Assert.Equal(FrameStatus.Fatal, framed.Status);
        Assert.Equal(FatalErrorStatus.InvalidHeaderField, framed.Error.Status);
        Assert.Equal((uint)DataTransferHeader.DataLengthOffset, framed.Error.Information);
    }

    [Fact]
    public void A_common_header_that_breaks_the_rules_is_fatal_at_once()
    {
        byte[] pdu = H2CData(3, 0x11, 0, Pattern(64, 4), last: true, headerDigest: false, dataDigest: false);
        var framed = FrameHeader(pdu, PduSizes.CommonHeader, ControllerRules(headerDigest: true)); // HDGSTF missing
        Assert.Equal(FrameStatus.Fatal, framed.Status);
        Assert.Equal(FatalErrorStatus.InvalidHeaderField, framed.Error.Status);
    }
}
