using System.Buffers;
using System.Buffers.Binary;
using Xunit;
using static NovaStor.Protocol.Tests.Pdu.PduTestKit;

namespace NovaStor.Protocol.Tests.Pdu;

/// <summary>
/// Malformed common headers: each one is a fatal transport error with the FES and FEI of the
/// termination request that answers it, decided from the 8-byte common header alone.
/// </summary>
public sealed class PduFramerMalformedTests
{
    private const PduReceiver C = PduReceiver.Controller;
    private const PduReceiver H = PduReceiver.Host;
    private const FatalErrorStatus Inv = FatalErrorStatus.InvalidHeaderField;
    private const FatalErrorStatus Seq = FatalErrorStatus.PduSequenceError;
    private const FatalErrorStatus Lim = FatalErrorStatus.DataTransferLimitExceeded;

    private static PduFramingRules RulesFor(PduReceiver receiver, bool initialized, bool headerDigest, bool dataDigest) => initialized
        ? (receiver == C ? ControllerRules(headerDigest, dataDigest) : HostRules(headerDigest, dataDigest))
        : PduFramingRules.BeforeInitialization(receiver);

    [Theory]
    // A PDU type the receiver never accepts: FEI 0 (PDU-TYPE), before and after initialization.
    [InlineData(C, true, false, false, 0x01, 0, 128, 0, 128L, Inv, 0L)]
    [InlineData(C, true, false, false, 0x03, 0, 24, 0, 24L, Inv, 0L)]
    [InlineData(C, true, false, false, 0x05, 0, 24, 0, 24L, Inv, 0L)]
    [InlineData(C, true, false, false, 0x07, 0, 24, 24, 88L, Inv, 0L)]
    [InlineData(C, true, false, false, 0x09, 0, 24, 0, 24L, Inv, 0L)]
    [InlineData(C, true, false, false, 0x08, 0, 24, 0, 24L, Inv, 0L)]
    [InlineData(C, true, false, false, 0x0A, 0, 24, 0, 24L, Inv, 0L)]
    [InlineData(C, true, false, false, 0xFF, 0, 24, 0, 24L, Inv, 0L)]
    [InlineData(C, true, true, true, 0x07, 0x0F, 24, 28, 96L, Inv, 0L)]
    [InlineData(C, false, false, false, 0x01, 0, 128, 0, 128L, Inv, 0L)]
    [InlineData(C, false, false, false, 0x05, 0, 24, 0, 24L, Inv, 0L)]
    [InlineData(H, true, false, false, 0x00, 0, 128, 0, 128L, Inv, 0L)]
    [InlineData(H, true, false, false, 0x02, 0, 24, 0, 24L, Inv, 0L)]
    [InlineData(H, true, false, false, 0x04, 0, 72, 0, 72L, Inv, 0L)]
    [InlineData(H, true, false, false, 0x06, 0, 24, 24, 88L, Inv, 0L)]
    [InlineData(H, true, false, false, 0x08, 0, 24, 0, 24L, Inv, 0L)]
    [InlineData(H, false, false, false, 0x00, 0, 128, 0, 128L, Inv, 0L)]
    // Out of sequence: anything but IC (or a termination) before initialization, a second IC after.
    [InlineData(C, false, false, false, 0x04, 0, 72, 0, 72L, Seq, 0L)]
    [InlineData(C, false, false, false, 0x04, 0, 72, 72, 100L, Seq, 0L)]
    [InlineData(C, false, false, false, 0x06, 0, 24, 24, 88L, Seq, 0L)]
    [InlineData(C, true, false, false, 0x00, 0, 128, 0, 128L, Seq, 0L)]
    [InlineData(C, true, true, true, 0x00, 0, 128, 0, 128L, Seq, 0L)]
    [InlineData(H, false, false, false, 0x05, 0, 24, 0, 24L, Seq, 0L)]
    [InlineData(H, false, false, false, 0x09, 0, 24, 0, 24L, Seq, 0L)]
    [InlineData(H, false, false, false, 0x07, 0x0C, 24, 24, 88L, Seq, 0L)]
    [InlineData(H, true, false, false, 0x01, 0, 128, 0, 128L, Seq, 0L)]
    // HLEN other than the type's: FEI 2.
    [InlineData(C, true, false, false, 0x04, 0, 24, 0, 72L, Inv, 2L)]
    [InlineData(C, true, false, false, 0x04, 0, 76, 0, 76L, Inv, 2L)]
    [InlineData(C, true, true, false, 0x04, 1, 76, 0, 80L, Inv, 2L)]
    [InlineData(C, true, false, false, 0x04, 0, 0, 0, 72L, Inv, 2L)]
    [InlineData(C, true, false, false, 0x06, 0, 72, 72, 136L, Inv, 2L)]
    [InlineData(C, true, false, false, 0x06, 0, 28, 28, 92L, Inv, 2L)]
    [InlineData(C, true, false, false, 0x02, 0, 128, 0, 128L, Inv, 2L)]
    [InlineData(C, true, false, false, 0x02, 0, 8, 0, 24L, Inv, 2L)]
    [InlineData(C, false, false, false, 0x00, 0, 24, 0, 128L, Inv, 2L)]
    [InlineData(C, false, false, false, 0x00, 0, 127, 0, 128L, Inv, 2L)]
    [InlineData(H, true, false, false, 0x05, 0, 16, 0, 24L, Inv, 2L)]
    [InlineData(H, true, false, false, 0x05, 0, 28, 0, 28L, Inv, 2L)]
    [InlineData(H, true, false, false, 0x09, 0, 72, 0, 72L, Inv, 2L)]
    [InlineData(H, true, false, false, 0x07, 0, 8, 8, 88L, Inv, 2L)]
    [InlineData(H, false, false, false, 0x01, 0, 24, 0, 128L, Inv, 2L)]
    // HDGSTF disagreeing with the negotiation, either way: FEI 1.
    [InlineData(C, true, true, false, 0x04, 0, 72, 0, 72L, Inv, 1L)]
    [InlineData(C, true, false, false, 0x04, 1, 72, 0, 76L, Inv, 1L)]
    [InlineData(C, true, true, true, 0x06, 2, 24, 24, 92L, Inv, 1L)]
    [InlineData(C, true, false, false, 0x06, 1, 24, 28, 92L, Inv, 1L)]
    [InlineData(C, false, false, false, 0x00, 1, 128, 0, 128L, Inv, 1L)]
    [InlineData(C, true, true, true, 0x02, 1, 24, 0, 24L, Inv, 1L)]
    [InlineData(C, true, true, true, 0x02, 1, 24, 0, 28L, Inv, 1L)]
    [InlineData(H, true, true, false, 0x05, 0, 24, 0, 24L, Inv, 1L)]
    [InlineData(H, true, false, false, 0x05, 1, 24, 0, 28L, Inv, 1L)]
    [InlineData(H, true, true, false, 0x09, 0, 24, 0, 24L, Inv, 1L)]
    [InlineData(H, true, true, true, 0x03, 1, 24, 0, 24L, Inv, 1L)]
    [InlineData(H, false, false, false, 0x01, 1, 128, 0, 128L, Inv, 1L)]
    // DDGSTF on a PDU without data: FEI 1.
    [InlineData(C, true, false, true, 0x04, 2, 72, 0, 72L, Inv, 1L)]
    [InlineData(C, true, false, false, 0x04, 2, 72, 0, 72L, Inv, 1L)]
    [InlineData(C, true, true, true, 0x04, 3, 72, 0, 76L, Inv, 1L)]
    [InlineData(C, false, false, false, 0x00, 2, 128, 0, 128L, Inv, 1L)]
    [InlineData(C, true, false, true, 0x02, 2, 24, 0, 24L, Inv, 1L)]
    [InlineData(C, true, false, true, 0x02, 2, 24, 0, 40L, Inv, 1L)]
    [InlineData(H, true, false, true, 0x05, 2, 24, 0, 24L, Inv, 1L)]
    [InlineData(H, true, true, true, 0x05, 3, 24, 0, 28L, Inv, 1L)]
    [InlineData(H, true, false, true, 0x09, 2, 24, 0, 24L, Inv, 1L)]
    [InlineData(H, false, false, false, 0x01, 2, 128, 0, 128L, Inv, 1L)]
    [InlineData(H, true, false, true, 0x03, 2, 24, 0, 40L, Inv, 1L)]
    // DDGSTF disagreeing with the negotiation on a PDU with data: FEI 1.
    [InlineData(C, true, false, true, 0x04, 0, 72, 72, 100L, Inv, 1L)]
    [InlineData(C, true, false, false, 0x04, 2, 72, 72, 104L, Inv, 1L)]
    [InlineData(C, true, false, true, 0x06, 0, 24, 24, 88L, Inv, 1L)]
    [InlineData(H, true, false, false, 0x07, 0x0E, 24, 24, 92L, Inv, 1L)]
    // ICReq / ICResp PLEN other than 128: FEI 4.
    [InlineData(C, false, false, false, 0x00, 0, 128, 0, 0L, Inv, 4L)]
    [InlineData(C, false, false, false, 0x00, 0, 128, 0, 8L, Inv, 4L)]
    [InlineData(C, false, false, false, 0x00, 0, 128, 0, 127L, Inv, 4L)]
    [InlineData(C, false, false, false, 0x00, 0, 128, 0, 129L, Inv, 4L)]
    [InlineData(C, false, false, false, 0x00, 0, 128, 0, 132L, Inv, 4L)]
    [InlineData(C, false, false, false, 0x00, 0, 128, 0, 4294967295L, Inv, 4L)]
    [InlineData(H, false, false, false, 0x01, 0, 128, 0, 124L, Inv, 4L)]
    [InlineData(H, false, false, false, 0x01, 0, 128, 0, 65536L, Inv, 4L)]
    // Termination request PLEN outside 24..152: FEI 4.
    [InlineData(C, true, false, false, 0x02, 0, 24, 0, 0L, Inv, 4L)]
    [InlineData(C, true, false, false, 0x02, 0, 24, 0, 8L, Inv, 4L)]
    [InlineData(C, true, false, false, 0x02, 0, 24, 0, 23L, Inv, 4L)]
    [InlineData(C, true, false, false, 0x02, 0, 24, 0, 153L, Inv, 4L)]
    [InlineData(C, true, false, false, 0x02, 0, 24, 0, 256L, Inv, 4L)]
    [InlineData(C, true, false, false, 0x02, 0, 24, 0, 4294967295L, Inv, 4L)]
    [InlineData(C, false, false, false, 0x02, 0, 24, 0, 153L, Inv, 4L)]
    [InlineData(H, true, true, true, 0x03, 0, 24, 0, 23L, Inv, 4L)]
    [InlineData(H, true, false, false, 0x03, 0, 24, 0, 153L, Inv, 4L)]
    // PLEN shorter than the header (and its digest): FEI 4.
    [InlineData(C, true, false, false, 0x04, 0, 72, 0, 0L, Inv, 4L)]
    [InlineData(C, true, false, false, 0x04, 0, 72, 0, 8L, Inv, 4L)]
    [InlineData(C, true, false, false, 0x04, 0, 72, 0, 71L, Inv, 4L)]
    [InlineData(C, true, true, false, 0x04, 1, 72, 0, 72L, Inv, 4L)]
    [InlineData(C, true, true, false, 0x04, 1, 72, 0, 75L, Inv, 4L)]
    [InlineData(C, true, false, false, 0x06, 0, 24, 24, 23L, Inv, 4L)]
    [InlineData(C, true, true, true, 0x06, 3, 24, 28, 27L, Inv, 4L)]
    [InlineData(H, true, false, false, 0x05, 0, 24, 0, 23L, Inv, 4L)]
    [InlineData(H, true, true, false, 0x05, 1, 24, 0, 24L, Inv, 4L)]
    [InlineData(H, true, false, false, 0x09, 0, 24, 0, 8L, Inv, 4L)]
    [InlineData(H, true, false, false, 0x07, 0, 24, 24, 16L, Inv, 4L)]
    // A data PDU that carries no data: FEI 4.
    [InlineData(C, true, false, false, 0x06, 0, 24, 0, 24L, Inv, 4L)]
    [InlineData(C, true, false, false, 0x06, 4, 24, 24, 24L, Inv, 4L)]
    [InlineData(C, true, true, true, 0x06, 1, 24, 0, 28L, Inv, 4L)]
    [InlineData(H, true, false, false, 0x07, 0x0C, 24, 0, 24L, Inv, 4L)]
    // CapsuleResp / R2T with bytes after the header (and digest): FEI 4, not a data limit.
    [InlineData(H, true, false, false, 0x05, 0, 24, 0, 25L, Inv, 4L)]
    [InlineData(H, true, false, false, 0x05, 0, 24, 0, 28L, Inv, 4L)]
    [InlineData(H, true, false, false, 0x05, 0, 24, 24, 40L, Inv, 4L)]
    [InlineData(H, true, false, true, 0x05, 2, 24, 24, 44L, Inv, 4L)]
    [InlineData(H, true, false, false, 0x05, 0, 24, 0, 4294967295L, Inv, 4L)]
    [InlineData(H, true, true, true, 0x05, 1, 24, 0, 32L, Inv, 4L)]
    [InlineData(H, true, false, false, 0x09, 0, 24, 0, 28L, Inv, 4L)]
    [InlineData(H, true, true, false, 0x09, 1, 24, 0, 32L, Inv, 4L)]
    // PLEN above the negotiated data limit: FES 5, FEI the PLEN (decided from 8 bytes).
    [InlineData(C, true, false, false, 0x04, 0, 72, 72, 8265L, Lim, 8265L)]
    [InlineData(C, true, false, false, 0x04, 0, 72, 72, 8268L, Lim, 8268L)]
    [InlineData(C, true, false, true, 0x04, 2, 72, 72, 8269L, Lim, 8269L)]
    [InlineData(C, true, true, true, 0x04, 3, 72, 76, 8273L, Lim, 8273L)]
    [InlineData(C, true, false, false, 0x04, 0, 72, 72, 4294967295L, Lim, 4294967295L)]
    [InlineData(C, true, false, false, 0x06, 0, 24, 24, 16409L, Lim, 16409L)]
    [InlineData(C, true, false, false, 0x06, 0, 24, 24, 16412L, Lim, 16412L)]
    [InlineData(C, true, true, true, 0x06, 3, 24, 28, 16417L, Lim, 16417L)]
    [InlineData(C, true, false, false, 0x06, 0, 24, 24, 2147483648L, Lim, 2147483648L)]
    [InlineData(C, true, false, false, 0x06, 4, 24, 0, 4294967295L, Lim, 4294967295L)]
    [InlineData(H, true, false, false, 0x07, 0x0C, 24, 24, 16409L, Lim, 16409L)]
    [InlineData(H, true, true, true, 0x07, 0x0F, 24, 28, 4294967295L, Lim, 4294967295L)]
    // PDO outside [header end, PLEN - data digest): FEI 3.
    [InlineData(C, true, false, false, 0x04, 0, 72, 0, 88L, Inv, 3L)]
    [InlineData(C, true, false, false, 0x04, 0, 72, 8, 88L, Inv, 3L)]
    [InlineData(C, true, false, false, 0x04, 0, 72, 71, 88L, Inv, 3L)]
    [InlineData(C, true, false, false, 0x04, 0, 72, 88, 88L, Inv, 3L)]
    [InlineData(C, true, false, false, 0x04, 0, 72, 200, 88L, Inv, 3L)]
    [InlineData(C, true, true, false, 0x04, 1, 72, 72, 92L, Inv, 3L)]
    [InlineData(C, true, true, false, 0x04, 1, 72, 75, 92L, Inv, 3L)]
    [InlineData(C, true, false, true, 0x04, 2, 72, 88, 92L, Inv, 3L)]
    [InlineData(C, true, false, true, 0x04, 2, 72, 90, 92L, Inv, 3L)]
    [InlineData(C, true, false, false, 0x06, 0, 24, 0, 88L, Inv, 3L)]
    [InlineData(C, true, false, false, 0x06, 0, 24, 23, 88L, Inv, 3L)]
    [InlineData(C, true, true, true, 0x06, 3, 24, 24, 96L, Inv, 3L)]
    [InlineData(H, true, false, false, 0x07, 4, 24, 0, 88L, Inv, 3L)]
    [InlineData(H, true, false, false, 0x07, 4, 24, 255, 88L, Inv, 3L)]
    public void MalformedHeaderIsFatal(PduReceiver receiver, bool initialized, bool headerDigest, bool dataDigest,
        int type, int flags, int headerLength, int dataOffset, long pduLength, FatalErrorStatus status, long information)
    {
        var rules = RulesFor(receiver, initialized, headerDigest, dataDigest);

        // The common header alone decides: no waiting for the rest of the PDU, however long PLEN says it is.
        byte[] common = Raw((byte)type, (PduFlags)flags, (byte)headerLength, (byte)dataOffset, (uint)pduLength, PduSizes.CommonHeader);
        AssertFatal(Frame(common, rules), status, (uint)information);
        AssertFatal(Frame(OneByteSegments(common), rules), status, (uint)information);

        // Still the same error with every byte present (and beyond), contiguous or in pieces.
        if (pduLength <= 4096)
        {
            int size = Math.Max(PduSizes.CommonHeader, (int)pduLength) + 16;
            byte[] whole = Raw((byte)type, (PduFlags)flags, (byte)headerLength, (byte)dataOffset, (uint)pduLength, size);
            AssertFatal(Frame(whole, rules), status, (uint)information);
            AssertFatal(Frame(RandomSegments(whole, size, 7), rules), status, (uint)information);
        }
    }

    [Fact]
    public void FewerThanEightBytesAreIncomplete()
    {
        byte[] garbage = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        foreach (var rules in new[] { ControllerRules(), HostRules(true, true), PduFramingRules.BeforeInitialization(C) })
        {
            for (int n = 0; n <= garbage.Length; n++)
            {
                var framed = Frame(garbage.AsSpan(0, n).ToArray(), rules);
                Assert.Equal(FrameStatus.Incomplete, framed.Status);
                Assert.Equal(default(PduFrame), framed.Frame);
                Assert.Equal(default(TransportError), framed.Error);
            }
        }
    }

    [Fact]
    public void BeforeInitializationRules()
    {
        Assert.Equal(new PduFramingRules(C, false, false, false, 0, 0), PduFramingRules.BeforeInitialization(C));
        Assert.Equal(new PduFramingRules(H, false, false, false, 0, 0), PduFramingRules.BeforeInitialization(H));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void DataExactlyAtTheLimitsIsAccepted(bool headerDigest, bool dataDigest)
    {
        byte[] capsule = CapsuleCommand(SampleCommand(1, InCapsuleLimit), Pattern((int)InCapsuleLimit, 1), headerDigest, dataDigest);
        var framed = Frame(capsule, ControllerRules(headerDigest, dataDigest));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal((int)InCapsuleLimit, framed.Frame.DataLength);
        Assert.Equal(FrameStatus.Incomplete, Frame(capsule.AsSpan(0, 8).ToArray(), ControllerRules(headerDigest, dataDigest)).Status);

        byte[] h2c = H2CData(1, 1, 0, Pattern((int)DataLimit, 2), true, headerDigest, dataDigest);
        framed = Frame(h2c, ControllerRules(headerDigest, dataDigest));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal((int)DataLimit, framed.Frame.DataLength);

        byte[] c2h = C2HData(1, 0, Pattern((int)DataLimit, 3), true, true, headerDigest, dataDigest);
        framed = Frame(c2h, HostRules(headerDigest, dataDigest));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal((int)DataLimit, framed.Frame.DataLength);
    }

    [Fact]
    public void OneByteOverTheLimitIsFatalAsSoonAsTheCommonHeaderArrives()
    {
        // The host streams an H2CData one byte past MAXH2CDATA: the 8th byte already ends it.
        byte[] h2c = H2CData(1, 1, 0, Pattern((int)DataLimit + 1, 2), true, false, false);
        var rules = ControllerRules();
        for (int n = 0; n < PduSizes.CommonHeader; n++)
        {
            Assert.Equal(FrameStatus.Incomplete, Frame(h2c.AsSpan(0, n).ToArray(), rules).Status);
        }

        AssertFatal(Frame(h2c.AsSpan(0, PduSizes.CommonHeader).ToArray(), rules), Lim, (uint)h2c.Length);
        AssertFatal(Frame(h2c, rules), Lim, (uint)h2c.Length);

        // The same for in-capsule data, where four bytes of slack once went unnoticed without a data digest.
        byte[] capsule = CapsuleCommand(SampleCommand(1, InCapsuleLimit + 4), Pattern((int)InCapsuleLimit + 4, 1), false, false);
        AssertFatal(Frame(capsule, ControllerRules()), Lim, (uint)capsule.Length);
        AssertFatal(Frame(capsule.AsSpan(0, 8).ToArray(), ControllerRules()), Lim, (uint)capsule.Length);
    }

    [Fact]
    public void HugeDeclaredLengthNeverWaits()
    {
        // 4 GiB - 1 announced by an otherwise plausible CapsuleCmd: the framer gives up at once.
        byte[] pdu = CapsuleCommand(SampleCommand(1, 16), Pattern(16, 1), false, false);
        BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(4), uint.MaxValue);
        AssertFatal(Frame(pdu, ControllerRules()), Lim, uint.MaxValue);
        AssertFatal(Frame(OneByteSegments(pdu.AsSpan(0, 8).ToArray()), ControllerRules()), Lim, uint.MaxValue);
    }

    public static TheoryData<bool, bool, long> DatalMismatches()
    {
        TheoryData<bool, bool, long> data = new();
        foreach (bool host in new[] { false, true })
        {
            foreach (bool headerDigest in new[] { false, true })
            {
                foreach (long datal in new[] { 0L, 63L, 65L, 128L, uint.MaxValue })
                {
                    data.Add(host, headerDigest, datal);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DatalMismatches))]
    public void DatalDisagreeingWithTheDataCarriedIsFatal(bool host, bool headerDigest, long datal)
    {
        byte[] data = Pattern(64, 5);
        byte[] pdu = host
            ? C2HData(3, 0, data, true, false, headerDigest, true)
            : H2CData(3, 7, 0, data, true, headerDigest, true);
        BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(DataTransferHeader.DataLengthOffset), (uint)datal);
        if (headerDigest)
        {
            SealHeaderDigest(pdu, PduSizes.DataHeader);
        }

        var rules = host ? HostRules(headerDigest, true) : ControllerRules(headerDigest, true);

        // Only a whole PDU shows how much data it carries.
        for (int n = 0; n < pdu.Length; n++)
        {
            Assert.Equal(FrameStatus.Incomplete, Frame(pdu.AsSpan(0, n).ToArray(), rules).Status);
        }

        AssertFatal(Frame(pdu, rules), Inv, 16);
        AssertFatal(Frame(OneByteSegments(pdu), rules), Inv, 16);
    }

    [Fact]
    public void DatalCountsDataAfterPaddingOnly()
    {
        // H2CData with PDO 32 (8 pad bytes): DATAL is the 64 bytes after the pad, not PLEN - HLEN.
        byte[] data = Pattern(64, 6);
        int plen = 32 + data.Length;
        byte[] pdu = new byte[plen];
        new DataTransferHeader(1, 2, 0, (uint)data.Length).WriteTo(pdu, PduType.HostToControllerData, PduFlags.LastPdu, 32, (uint)plen);
        data.CopyTo(pdu, 32);

        var framed = Frame(pdu, ControllerRules());
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal(32, framed.Frame.DataOffset);
        Assert.Equal(64, framed.Frame.DataLength);

        BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(16), 72);
        AssertFatal(Frame(pdu, ControllerRules()), Inv, 16);
    }

    [Fact]
    public void TerminationRequestLengthBounds()
    {
        foreach (int echoed in new[] { 0, 1, 127, 128 })
        {
            byte[] pdu = Termination(PduType.HostToControllerTerminationRequest, FatalErrorStatus.UnsupportedParameter, 11, Pattern(echoed, echoed));
            Assert.Equal(24 + echoed, pdu.Length);
            foreach (var rules in new[] { ControllerRules(), ControllerRules(true, true), PduFramingRules.BeforeInitialization(C) })
            {
                for (int n = 0; n < pdu.Length; n++)
                {
                    Assert.Equal(FrameStatus.Incomplete, Frame(pdu.AsSpan(0, n).ToArray(), rules).Status);
                }

                var framed = Frame(pdu, rules);
                Assert.Equal(FrameStatus.Complete, framed.Status);
                Assert.Equal(pdu.Length, framed.Frame.Length);
                Assert.Equal(new TerminationRequest(PduType.HostToControllerTerminationRequest, FatalErrorStatus.UnsupportedParameter, 11), TerminationRequest.Read(framed.Header));
            }
        }
    }

    [Fact]
    public void ErrorsAreReportedForTheFirstPduOnly()
    {
        // A good PDU followed by a bad one: the first frames, the bad one is fatal once reached.
        byte[] good = CapsuleCommand(SampleCommand(1), [], false, false);
        byte[] bad = Raw(0x05, PduFlags.None, 24, 0, 24, 24);
        var buffer = new ReadOnlySequence<byte>(Concat(good, bad));
        var first = Frame(buffer, ControllerRules());
        Assert.Equal(FrameStatus.Complete, first.Status);
        AssertFatal(Frame(buffer.Slice(first.Frame.Length), ControllerRules()), Inv, 0);
    }
}
