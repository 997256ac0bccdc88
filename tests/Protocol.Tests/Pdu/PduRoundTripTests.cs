using Xunit;
using static NovaStor.Protocol.Tests.Pdu.PduTestKit;

namespace NovaStor.Protocol.Tests.Pdu;

/// <summary>Every PDU type: written bytes at the NVMe/TCP 1.0 offsets, read back, and accepted by the framer.</summary>
public sealed class PduRoundTripTests
{
    private static byte[] Filled(int length, byte value = 0xCC)
    {
        byte[] b = new byte[length];
        b.AsSpan().Fill(value);
        return b;
    }

    private static void AssertZero(byte[] b, int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            Assert.True(b[i] == 0, $"byte {i} is 0x{b[i]:X2}, expected 0");
        }
    }

    private static void AssertCommonHeader(byte[] pdu, PduType type, PduFlags flags, byte headerLength, byte dataOffset, uint pduLength)
    {
        Assert.Equal((byte)type, pdu[0]);
        Assert.Equal((byte)flags, pdu[1]);
        Assert.Equal(headerLength, pdu[2]);
        Assert.Equal(dataOffset, pdu[3]);
        Assert.Equal(pduLength, U32(pdu, 4));
    }

    [Fact]
    public void WireConstants()
    {
        Assert.Equal(0x00, (byte)PduType.InitializeConnectionRequest);
        Assert.Equal(0x01, (byte)PduType.InitializeConnectionResponse);
        Assert.Equal(0x02, (byte)PduType.HostToControllerTerminationRequest);
        Assert.Equal(0x03, (byte)PduType.ControllerToHostTerminationRequest);
        Assert.Equal(0x04, (byte)PduType.CapsuleCommand);
        Assert.Equal(0x05, (byte)PduType.CapsuleResponse);
        Assert.Equal(0x06, (byte)PduType.HostToControllerData);
        Assert.Equal(0x07, (byte)PduType.ControllerToHostData);
        Assert.Equal(0x09, (byte)PduType.ReadyToTransfer);

        Assert.Equal(0x01, (byte)PduFlags.HeaderDigest);
        Assert.Equal(0x02, (byte)PduFlags.DataDigest);
        Assert.Equal(0x04, (byte)PduFlags.LastPdu);
        Assert.Equal(0x08, (byte)PduFlags.Success);

        Assert.Equal(1, (int)FatalErrorStatus.InvalidHeaderField);
        Assert.Equal(2, (int)FatalErrorStatus.PduSequenceError);
        Assert.Equal(3, (int)FatalErrorStatus.HeaderDigestError);
        Assert.Equal(4, (int)FatalErrorStatus.DataTransferOutOfRange);
        Assert.Equal(5, (int)FatalErrorStatus.DataTransferLimitExceeded);
        Assert.Equal(6, (int)FatalErrorStatus.UnsupportedParameter);

        Assert.Equal(128, PduSizes.HeaderLengthOf(PduType.InitializeConnectionRequest));
        Assert.Equal(128, PduSizes.HeaderLengthOf(PduType.InitializeConnectionResponse));
        Assert.Equal(24, PduSizes.HeaderLengthOf(PduType.HostToControllerTerminationRequest));
        Assert.Equal(24, PduSizes.HeaderLengthOf(PduType.ControllerToHostTerminationRequest));
        Assert.Equal(72, PduSizes.HeaderLengthOf(PduType.CapsuleCommand));
        Assert.Equal(24, PduSizes.HeaderLengthOf(PduType.CapsuleResponse));
        Assert.Equal(24, PduSizes.HeaderLengthOf(PduType.HostToControllerData));
        Assert.Equal(24, PduSizes.HeaderLengthOf(PduType.ControllerToHostData));
        Assert.Equal(24, PduSizes.HeaderLengthOf(PduType.ReadyToTransfer));
        Assert.Equal(0, PduSizes.HeaderLengthOf((PduType)0x08));

        Assert.Equal(0, PduHeader.TypeOffset);
        Assert.Equal(1, PduHeader.FlagsOffset);
        Assert.Equal(2, PduHeader.HeaderLengthOffset);
        Assert.Equal(3, PduHeader.DataOffsetOffset);
        Assert.Equal(4, PduHeader.PduLengthOffset);
    }

    [Fact]
    public void CommonHeaderRoundTrip()
    {
        byte[] b = Filled(8);
        var header = new PduHeader(PduType.ControllerToHostData, PduFlags.HeaderDigest | PduFlags.LastPdu, 24, 28, 0x12345678);
        header.WriteTo(b);
        Assert.Equal(new byte[] { 0x07, 0x05, 24, 28, 0x78, 0x56, 0x34, 0x12 }, b);
        Assert.Equal(header, PduHeader.Read(b));
    }

    [Theory]
    [InlineData(DigestOptions.None)]
    [InlineData(DigestOptions.Header)]
    [InlineData(DigestOptions.Data)]
    [InlineData(DigestOptions.Header | DigestOptions.Data)]
    public void InitializeConnectionRequestRoundTrip(DigestOptions digests)
    {
        byte[] b = Filled(PduSizes.InitializeConnection);
        var request = new InitializeConnectionRequest(0, 7, digests, 0x01020304);
        request.WriteTo(b);

        AssertCommonHeader(b, PduType.InitializeConnectionRequest, PduFlags.None, 128, 0, 128);
        Assert.Equal(0, U16(b, 8));
        Assert.Equal(7, b[10]);
        Assert.Equal((byte)digests, b[11]);
        Assert.Equal(0x01020304u, U32(b, 12));
        AssertZero(b, 16, 128);
        Assert.Equal(request, InitializeConnectionRequest.Read(b));

        Assert.Equal(8, InitializeConnectionRequest.FormatVersionOffset);
        Assert.Equal(10, InitializeConnectionRequest.HostDataAlignmentOffset);
        Assert.Equal(11, InitializeConnectionRequest.DigestOffset);
        Assert.Equal(12, InitializeConnectionRequest.MaxR2TOffset);

        var framed = Frame(b, PduFramingRules.BeforeInitialization(PduReceiver.Controller));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal(PduType.InitializeConnectionRequest, framed.Frame.Type);
        Assert.Equal(128, framed.Frame.Length);
        Assert.Equal(0, framed.Frame.DataLength);
        Assert.Equal(request, InitializeConnectionRequest.Read(framed.Header));
    }

    [Theory]
    [InlineData(DigestOptions.None)]
    [InlineData(DigestOptions.Header | DigestOptions.Data)]
    public void InitializeConnectionResponseRoundTrip(DigestOptions digests)
    {
        byte[] b = Filled(PduSizes.InitializeConnection);
        var response = new InitializeConnectionResponse(0, 0, digests, 131072);
        response.WriteTo(b);

        AssertCommonHeader(b, PduType.InitializeConnectionResponse, PduFlags.None, 128, 0, 128);
        Assert.Equal(0, U16(b, 8));
        Assert.Equal(0, b[10]);
        Assert.Equal((byte)digests, b[11]);
        Assert.Equal(131072u, U32(b, 12));
        AssertZero(b, 16, 128);
        Assert.Equal(response, InitializeConnectionResponse.Read(b));

        var framed = Frame(b, PduFramingRules.BeforeInitialization(PduReceiver.Host));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal(PduType.InitializeConnectionResponse, framed.Frame.Type);
        Assert.Equal(response, InitializeConnectionResponse.Read(framed.Header));
    }

    [Theory]
    [InlineData(PduType.HostToControllerTerminationRequest, 0)]
    [InlineData(PduType.HostToControllerTerminationRequest, 8)]
    [InlineData(PduType.ControllerToHostTerminationRequest, 72)]
    [InlineData(PduType.ControllerToHostTerminationRequest, 128)]
    [InlineData(PduType.ControllerToHostTerminationRequest, 200)]
    public void TerminationRequestRoundTrip(PduType type, int offendingLength)
    {
        byte[] offending = Pattern(offendingLength, offendingLength);
        byte[] b = Filled(PduSizes.TerminationRequestMax + 8);
        var request = new TerminationRequest(type, FatalErrorStatus.DataTransferLimitExceeded, 0xA1B2C3D4);
        int length = request.WriteTo(b, offending);

        int echoed = Math.Min(offendingLength, 128);
        Assert.Equal(24 + echoed, length);
        AssertCommonHeader(b, type, PduFlags.None, 24, 0, (uint)length);
        Assert.Equal(5, U16(b, 8));
        Assert.Equal(0xA1B2C3D4u, U32(b, 10));
        AssertZero(b, 14, 24);
        Assert.Equal(offending.AsSpan(0, echoed).ToArray(), b.AsSpan(24, echoed).ToArray());
        Assert.Equal(0xCC, b[length]);
        Assert.Equal(request, TerminationRequest.Read(b));

        var rules = type == PduType.HostToControllerTerminationRequest ? ControllerRules(true, true) : HostRules(true, true);
        var framed = Frame(b.AsSpan(0, length).ToArray(), rules);
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal(type, framed.Frame.Type);
        Assert.Equal(length, framed.Frame.Length);
        Assert.Equal(request, TerminationRequest.Read(framed.Header));

        // Termination requests are acceptable before initialization, too.
        var early = Frame(b.AsSpan(0, length).ToArray(), PduFramingRules.BeforeInitialization(
            type == PduType.HostToControllerTerminationRequest ? PduReceiver.Controller : PduReceiver.Host));
        Assert.Equal(FrameStatus.Complete, early.Status);
    }

    [Theory]
    [InlineData(false, false, 0)]
    [InlineData(true, false, 0)]
    [InlineData(false, false, 100)]
    [InlineData(false, true, 100)]
    [InlineData(true, false, 100)]
    [InlineData(true, true, 100)]
    [InlineData(true, true, 0)]
    public void CapsuleCommandRoundTrip(bool headerDigest, bool dataDigest, int dataLength)
    {
        byte[] data = Pattern(dataLength, 3);
        var command = SampleCommand(0x1234, (uint)dataLength);
        byte[] pdu = CapsuleCommand(command, data, headerDigest, dataDigest);

        int headerEnd = 72 + (headerDigest ? 4 : 0);
        bool digestOnData = dataDigest && dataLength > 0;
        int plen = headerEnd + dataLength + (digestOnData ? 4 : 0);
        var flags = (headerDigest ? PduFlags.HeaderDigest : PduFlags.None) | (digestOnData ? PduFlags.DataDigest : PduFlags.None);
        AssertCommonHeader(pdu, PduType.CapsuleCommand, flags, 72, dataLength > 0 ? (byte)headerEnd : (byte)0, (uint)plen);
        Assert.Equal(plen, pdu.Length);

        byte[] sqe = new byte[64];
        command.WriteTo(sqe);
        Assert.Equal(sqe, pdu.AsSpan(8, 64).ToArray());
        if (headerDigest)
        {
            Assert.Equal(Crc32C.Compute(pdu.AsSpan(0, 72)), U32(pdu, 72));
        }

        Assert.Equal(data, pdu.AsSpan(headerEnd, dataLength).ToArray());
        if (digestOnData)
        {
            Assert.Equal(Crc32C.Compute(data), U32(pdu, headerEnd + dataLength));
        }

        var framed = Frame(pdu, ControllerRules(headerDigest, dataDigest));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal(PduType.CapsuleCommand, framed.Frame.Type);
        Assert.Equal(plen, framed.Frame.Length);
        Assert.Equal(dataLength, framed.Frame.DataLength);
        Assert.True(framed.Frame.DataDigestValid);
        if (dataLength > 0)
        {
            Assert.Equal(headerEnd, framed.Frame.DataOffset);
        }

        var read = SubmissionQueueEntry.Read(framed.Header.AsSpan(8));
        Assert.Equal(command, read);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CapsuleResponseRoundTrip(bool headerDigest)
    {
        var completion = new CompletionQueueEntry(0xDEADBEEF, 0x01020304, 17, 3, 0xABCD, StatusCodes.ConnectInvalidHost);
        byte[] pdu = CapsuleResponse(completion, headerDigest);

        int plen = 24 + (headerDigest ? 4 : 0);
        Assert.Equal(plen, pdu.Length);
        AssertCommonHeader(pdu, PduType.CapsuleResponse, headerDigest ? PduFlags.HeaderDigest : PduFlags.None, 24, 0, (uint)plen);
        Assert.Equal(0xDEADBEEFu, U32(pdu, 8));
        Assert.Equal(0x01020304u, U32(pdu, 12));
        Assert.Equal(17, U16(pdu, 16));
        Assert.Equal(3, U16(pdu, 18));
        Assert.Equal(0xABCD, U16(pdu, 20));
        Assert.Equal(0x4184 << 1, U16(pdu, 22));
        if (headerDigest)
        {
            Assert.Equal(Crc32C.Compute(pdu.AsSpan(0, 24)), U32(pdu, 24));
        }

        var framed = Frame(pdu, HostRules(headerDigest));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal(PduType.CapsuleResponse, framed.Frame.Type);
        Assert.Equal(plen, framed.Frame.Length);
        Assert.Equal(0, framed.Frame.DataLength);
        Assert.Equal(completion, CompletionQueueEntry.Read(framed.Header.AsSpan(8)));
    }

    [Theory]
    [InlineData(PduType.HostToControllerData, false, false, false, false)]
    [InlineData(PduType.HostToControllerData, true, false, true, false)]
    [InlineData(PduType.HostToControllerData, true, true, false, true)]
    [InlineData(PduType.ControllerToHostData, false, false, false, false)]
    [InlineData(PduType.ControllerToHostData, true, true, true, true)]
    [InlineData(PduType.ControllerToHostData, false, true, true, false)]
    public void DataPduRoundTrip(PduType type, bool last, bool success, bool headerDigest, bool dataDigest)
    {
        byte[] data = Pattern(300, 9);
        var transfer = new DataTransferHeader(0x0102, type == PduType.HostToControllerData ? (ushort)0x0A0B : (ushort)0, 0x10000, (uint)data.Length);
        byte[] pdu = DataPdu(type, transfer, data, last, success, headerDigest, dataDigest);

        int headerEnd = 24 + (headerDigest ? 4 : 0);
        int plen = headerEnd + data.Length + (dataDigest ? 4 : 0);
        var flags = (headerDigest ? PduFlags.HeaderDigest : PduFlags.None)
            | (dataDigest ? PduFlags.DataDigest : PduFlags.None)
            | (last ? PduFlags.LastPdu : PduFlags.None)
            | (success ? PduFlags.Success : PduFlags.None);
        Assert.Equal(plen, pdu.Length);
        AssertCommonHeader(pdu, type, flags, 24, (byte)headerEnd, (uint)plen);
        Assert.Equal(0x0102, U16(pdu, 8));
        Assert.Equal(transfer.TransferTag, U16(pdu, 10));
        Assert.Equal(0x10000u, U32(pdu, 12));
        Assert.Equal(300u, U32(pdu, 16));
        AssertZero(pdu, 20, 24);
        Assert.Equal(data, pdu.AsSpan(headerEnd, data.Length).ToArray());
        Assert.Equal(transfer, DataTransferHeader.Read(pdu));

        Assert.Equal(8, DataTransferHeader.CommandIdOffset);
        Assert.Equal(10, DataTransferHeader.TransferTagOffset);
        Assert.Equal(12, DataTransferHeader.DataOffsetOffset);
        Assert.Equal(16, DataTransferHeader.DataLengthOffset);

        var rules = type == PduType.HostToControllerData ? ControllerRules(headerDigest, dataDigest) : HostRules(headerDigest, dataDigest);
        var framed = Frame(pdu, rules);
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal(type, framed.Frame.Type);
        Assert.Equal(flags, framed.Frame.Header.Flags);
        Assert.Equal(headerEnd, framed.Frame.DataOffset);
        Assert.Equal(data.Length, framed.Frame.DataLength);
        Assert.True(framed.Frame.DataDigestValid);
        Assert.Equal(transfer, DataTransferHeader.Read(framed.Header));
    }

    [Fact]
    public void DataTransferHeaderWriteToClearsReservedBytes()
    {
        byte[] b = Filled(32);
        new DataTransferHeader(1, 2, 3, 4).WriteTo(b, PduType.ControllerToHostData, PduFlags.LastPdu, 24, 28);
        AssertCommonHeader(b, PduType.ControllerToHostData, PduFlags.LastPdu, 24, 24, 28);
        Assert.Equal(1, U16(b, 8));
        Assert.Equal(2, U16(b, 10));
        Assert.Equal(3u, U32(b, 12));
        Assert.Equal(4u, U32(b, 16));
        AssertZero(b, 20, 24);
        Assert.Equal(0xCC, b[24]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadyToTransferRoundTrip(bool headerDigest)
    {
        var request = new DataTransferHeader(0x0042, 0x0007, 0x2000, 0x8000);
        byte[] pdu = ReadyToTransfer(request, headerDigest);

        int plen = 24 + (headerDigest ? 4 : 0);
        Assert.Equal(plen, pdu.Length);
        AssertCommonHeader(pdu, PduType.ReadyToTransfer, headerDigest ? PduFlags.HeaderDigest : PduFlags.None, 24, 0, (uint)plen);
        Assert.Equal(0x0042, U16(pdu, 8));
        Assert.Equal(0x0007, U16(pdu, 10));
        Assert.Equal(0x2000u, U32(pdu, 12));
        Assert.Equal(0x8000u, U32(pdu, 16));
        AssertZero(pdu, 20, 24);
        if (headerDigest)
        {
            Assert.Equal(Crc32C.Compute(pdu.AsSpan(0, 24)), U32(pdu, 24));
        }

        var framed = Frame(pdu, HostRules(headerDigest, true));
        Assert.Equal(FrameStatus.Complete, framed.Status);
        Assert.Equal(PduType.ReadyToTransfer, framed.Frame.Type);
        Assert.Equal(0, framed.Frame.DataLength);
        Assert.Equal(request, DataTransferHeader.Read(framed.Header));
    }
}
