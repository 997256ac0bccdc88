using System.Text;
using Xunit;
using static NovaStor.Protocol.Tests.Pdu.PduTestKit;

namespace NovaStor.Protocol.Tests.Pdu;

/// <summary>SQE, CQE, SGL descriptor and status encoding against the NVMe Base 2.0 layouts.</summary>
public sealed class NvmeStructureTests
{
    private static byte[] Filled(int length)
    {
        byte[] b = new byte[length];
        b.AsSpan().Fill(0xCC);
        return b;
    }

    private static SubmissionQueueEntry Distinct() => new()
    {
        Opcode = 0x02,
        Flags = 0x41,
        CommandId = 0xA1A2,
        NamespaceId = 0xB1B2B3B4,
        Cdw2 = 0xC1C2C3C4,
        Cdw3 = 0xD1D2D3D4,
        MetadataPointer = 0xE1E2E3E4E5E6E7E8,
        Sgl = new SglDescriptor(0x1112131415161718, 0x21222324, 0x5A),
        Cdw10 = 0x31323334,
        Cdw11 = 0x41424344,
        Cdw12 = 0x51525354,
        Cdw13 = 0x61626364,
        Cdw14 = 0x71727374,
        Cdw15 = 0x81828384,
    };

    [Fact]
    public void SubmissionQueueEntryAtSpecOffsets()
    {
        var sqe = Distinct();
        byte[] b = Filled(80);
        sqe.WriteTo(b);

        Assert.Equal(0x02, b[0]);
        Assert.Equal(0x41, b[1]);
        Assert.Equal(0xA1A2, U16(b, 2));
        Assert.Equal(0xB1B2B3B4u, U32(b, 4));
        Assert.Equal(0xC1C2C3C4u, U32(b, 8));
        Assert.Equal(0xD1D2D3D4u, U32(b, 12));
        Assert.Equal(0xE1E2E3E4E5E6E7E8ul, U64(b, 16));
        Assert.Equal(0x1112131415161718ul, U64(b, 24));
        Assert.Equal(0x21222324u, U32(b, 32));
        Assert.Equal(new byte[] { 0, 0, 0 }, b.AsSpan(36, 3).ToArray());
        Assert.Equal(0x5A, b[39]);
        Assert.Equal(0x31323334u, U32(b, 40));
        Assert.Equal(0x41424344u, U32(b, 44));
        Assert.Equal(0x51525354u, U32(b, 48));
        Assert.Equal(0x61626364u, U32(b, 52));
        Assert.Equal(0x71727374u, U32(b, 56));
        Assert.Equal(0x81828384u, U32(b, 60));
        Assert.All(b[64..], x => Assert.Equal(0xCC, x));

        var read = SubmissionQueueEntry.Read(b);
        Assert.Equal(sqe, read);
        Assert.Equal(1, read.DataTransferType);
        Assert.Equal(0xB4, read.FabricsCommandType);
    }

    [Fact]
    public void SubmissionQueueEntryReadsOnlyItsSixtyFourBytes()
    {
        byte[] b = Pattern(64, 5);
        var sqe = SubmissionQueueEntry.Read(b);
        byte[] again = new byte[64];
        sqe.WriteTo(again);

        // Everything except SGL bytes 36..38 (reserved, written as 0) survives a round trip.
        b[36] = b[37] = b[38] = 0;
        Assert.Equal(b, again);
        Assert.Throws<ArgumentOutOfRangeException>(() => SubmissionQueueEntry.Read(new byte[63]));
    }

    [Theory]
    [InlineData(0x00, 0)]
    [InlineData(0x40, 1)]
    [InlineData(0x80, 2)]
    [InlineData(0x43, 1)]
    public void DataTransferTypeIsBits7To6(byte flags, int psdt)
    {
        var sqe = new SubmissionQueueEntry { Flags = flags };
        Assert.Equal(psdt, sqe.DataTransferType);
        Assert.Equal(0x40, SubmissionQueueEntry.SglFlags);
    }

    [Fact]
    public void SglDescriptorAtSpecOffsets()
    {
        byte[] b = Filled(20);
        var sgl = new SglDescriptor(0x0102030405060708, 0x0A0B0C0D, SglDescriptor.DataBlockOffset);
        sgl.WriteTo(b);
        Assert.Equal(new byte[] { 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x0D, 0x0C, 0x0B, 0x0A, 0, 0, 0, 0x01, 0xCC, 0xCC, 0xCC, 0xCC }, b);
        Assert.Equal(sgl, SglDescriptor.Read(b));

        Assert.Equal(0x01, SglDescriptor.DataBlockOffset);
        Assert.Equal(0x5A, SglDescriptor.TransportDataBlock);
        Assert.Equal(0x5, SglDescriptor.TransportDataBlock >> 4);
        Assert.Equal(0xA, SglDescriptor.TransportDataBlock & 0xF);

        var none = new SglDescriptor(0, 0, SglDescriptor.TransportDataBlock);
        none.WriteTo(b);
        Assert.Equal(none, SglDescriptor.Read(b));
        Assert.Equal(0x5A, b[15]);
    }

    [Fact]
    public void CompletionQueueEntryAtSpecOffsets()
    {
        var status = NvmeStatus.Of(StatusCodeType.MediaAndDataIntegrity, 0x81);
        var more = new NvmeStatus((ushort)(status.Value | (1 << 13)));
        var cqe = new CompletionQueueEntry(0x11223344, 0x55667788, 0x99AA, 0xBBCC, 0xDDEE, more);
        byte[] b = Filled(20);
        cqe.WriteTo(b);

        Assert.Equal(0x11223344u, U32(b, 0));
        Assert.Equal(0x55667788u, U32(b, 4));
        Assert.Equal(0x99AA, U16(b, 8));
        Assert.Equal(0xBBCC, U16(b, 10));
        Assert.Equal(0xDDEE, U16(b, 12));

        // DW3 bits 31:16: P bit 16 (0), SC 24:17, SCT 27:25, CRD 29:28, M 30, DNR 31.
        uint dw3 = U32(b, 12);
        Assert.Equal(0u, (dw3 >> 16) & 1);
        Assert.Equal(0x81u, (dw3 >> 17) & 0xFF);
        Assert.Equal(2u, (dw3 >> 25) & 0x7);
        Assert.Equal(0u, (dw3 >> 28) & 0x3);
        Assert.Equal(1u, (dw3 >> 30) & 1);
        Assert.Equal(1u, dw3 >> 31);
        Assert.Equal(0b1100_0101_0000_0010, U16(b, 14));
        Assert.All(b[16..], x => Assert.Equal(0xCC, x));

        var read = CompletionQueueEntry.Read(b);
        Assert.Equal(cqe, read);
        Assert.True(read.Status.More);
        Assert.True(read.Status.DoNotRetry);
        Assert.Equal(StatusCodeType.MediaAndDataIntegrity, read.Status.CodeType);
        Assert.Equal(0x81, read.Status.Code);
        Assert.False(read.Status.IsSuccess);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void CompletionStatusBitsAndPhase(bool doNotRetry, bool more)
    {
        ushort value = (ushort)(0x0102 | (more ? 1 << 13 : 0) | (doNotRetry ? 1 << 14 : 0));
        var cqe = new CompletionQueueEntry(0, 0, 0, 0, 1, new NvmeStatus(value));
        byte[] b = new byte[16];
        cqe.WriteTo(b);

        Assert.Equal(0, b[14] & 1);
        Assert.Equal(doNotRetry, (b[15] & 0x80) != 0);
        Assert.Equal(more, (b[15] & 0x40) != 0);
        Assert.Equal(0x02, (U16(b, 14) >> 1) & 0xFF);
        Assert.Equal(1, (U16(b, 14) >> 9) & 0x7);

        var read = CompletionQueueEntry.Read(b);
        Assert.Equal(doNotRetry, read.Status.DoNotRetry);
        Assert.Equal(more, read.Status.More);

        // A phase tag set by a peer is not part of the status.
        b[14] |= 1;
        Assert.Equal(cqe, CompletionQueueEntry.Read(b));
    }

    [Fact]
    public void SuccessCompletionHasAllZeroStatusWord()
    {
        byte[] b = Filled(16);
        new CompletionQueueEntry(5, 0, 1, 0, 9, NvmeStatus.Success).WriteTo(b);
        Assert.Equal(0, U16(b, 14));
        Assert.True(CompletionQueueEntry.Read(b).Status.IsSuccess);
    }

    [Fact]
    public void StatusEncoding()
    {
        Assert.Equal(0, NvmeStatus.Success.Value);
        Assert.True(NvmeStatus.Success.IsSuccess);
        Assert.False(NvmeStatus.Success.DoNotRetry);
        Assert.Equal("Success", NvmeStatus.Success.ToString());

        // Success never carries DNR even when asked.
        Assert.Equal(NvmeStatus.Success, NvmeStatus.Of(StatusCodeType.Generic, 0));
        Assert.Equal(0x4002, NvmeStatus.Of(StatusCodeType.Generic, 0x02).Value);
        Assert.Equal(0x0002, NvmeStatus.Of(StatusCodeType.Generic, 0x02, doNotRetry: false).Value);
        Assert.Equal(0x4002, NvmeStatus.Of(StatusCodeType.Generic, 0x02, doNotRetry: false).WithDoNotRetry().Value);
        Assert.Equal(0x0301, NvmeStatus.Of(StatusCodeType.PathRelated, 0x01, doNotRetry: false).Value);

        var s = new NvmeStatus(0x6384);
        Assert.Equal(0x84, s.Code);
        Assert.Equal(StatusCodeType.PathRelated, s.CodeType);
        Assert.True(s.More);
        Assert.True(s.DoNotRetry);
        Assert.False(s.IsSuccess);

        // SC/SCT decide success: an SCT with SC 0 is an error, CRD bits alone are not.
        Assert.False(new NvmeStatus(0x0100).IsSuccess);
        Assert.True(new NvmeStatus(0x1800).IsSuccess);
    }

    [Fact]
    public void StatusCodesMatchLinuxValues()
    {
        // Values as in the Linux kernel's NVME_SC_*, with DNR (0x4000) where the error is final.
        Assert.Equal(0x4001, StatusCodes.InvalidOpcode.Value);
        Assert.Equal(0x4002, StatusCodes.InvalidField.Value);
        Assert.Equal(0x4003, StatusCodes.CommandIdConflict.Value);
        Assert.Equal(0x4004, StatusCodes.DataTransferError.Value);
        Assert.Equal(0x4006, StatusCodes.InternalError.Value);
        Assert.Equal(0x0007, StatusCodes.AbortRequested.Value);
        Assert.Equal(0x400B, StatusCodes.InvalidNamespace.Value);
        Assert.Equal(0x400C, StatusCodes.CommandSequenceError.Value);
        Assert.Equal(0x400D, StatusCodes.InvalidSglDescriptor.Value);
        Assert.Equal(0x400F, StatusCodes.SglDataLengthInvalid.Value);
        Assert.Equal(0x4011, StatusCodes.SglDescriptorTypeInvalid.Value);
        Assert.Equal(0x4016, StatusCodes.SglOffsetInvalid.Value);
        Assert.Equal(0x401A, StatusCodes.KeepAliveTimeoutInvalid.Value);
        Assert.Equal(0x0022, StatusCodes.TransientTransportError.Value);
        Assert.Equal(0x4080, StatusCodes.LbaOutOfRange.Value);
        Assert.Equal(0x4081, StatusCodes.CapacityExceeded.Value);

        Assert.Equal(0x4101, StatusCodes.InvalidQueueIdentifier.Value);
        Assert.Equal(0x4102, StatusCodes.InvalidQueueSize.Value);
        Assert.Equal(0x4105, StatusCodes.AsyncEventRequestLimitExceeded.Value);
        Assert.Equal(0x4109, StatusCodes.InvalidLogPage.Value);
        Assert.Equal(0x410D, StatusCodes.FeatureNotSaveable.Value);
        Assert.Equal(0x410E, StatusCodes.FeatureNotChangeable.Value);
        Assert.Equal(0x4180, StatusCodes.ConnectIncompatibleFormat.Value);
        Assert.Equal(0x4181, StatusCodes.ConnectControllerBusy.Value);
        Assert.Equal(0x4182, StatusCodes.ConnectInvalidParameters.Value);
        Assert.Equal(0x4184, StatusCodes.ConnectInvalidHost.Value);

        Assert.Equal(0x4280, StatusCodes.WriteFault.Value);
        Assert.Equal(0x4281, StatusCodes.UnrecoveredReadError.Value);
        Assert.Equal(0x4285, StatusCodes.CompareFailure.Value);
    }

    [Fact]
    public void StatusDescriptions()
    {
        Assert.Equal("Invalid Field in Command", StatusCodes.Describe(StatusCodes.InvalidField));
        Assert.Equal("Connect Invalid Host", StatusCodes.Describe(StatusCodes.ConnectInvalidHost));
        Assert.Equal("Unknown Status", StatusCodes.Describe(new NvmeStatus(0x02FF)));
        Assert.Equal("Invalid Command Opcode (SCT 0h SC 01h, DNR)", StatusCodes.InvalidOpcode.ToString());
        Assert.Equal("Command Abort Requested (SCT 0h SC 07h)", StatusCodes.AbortRequested.ToString());
        Assert.Equal("Connect Incompatible Format / Conflicting Attributes (SCT 1h SC 80h, DNR)", StatusCodes.ConnectIncompatibleFormat.ToString());
    }
}

/// <summary>Fabrics Connect command and data, and the property helpers, at the NVMe over Fabrics 1.1 offsets.</summary>
public sealed class FabricsStructureTests
{
    [Fact]
    public void ConnectCommandFieldsInTheSqe()
    {
        var connect = new ConnectCommand(0, 0x0102, 0x007F, ConnectCommand.DisableSqFlowControl, 120_000);
        var sqe = connect.ToSubmissionQueueEntry(0x0BCD, ConnectData.Length);
        byte[] b = new byte[64];
        b.AsSpan().Fill(0xCC);
        sqe.WriteTo(b);

        Assert.Equal(0x7F, b[0]);
        Assert.Equal(0x40, b[1]);
        Assert.Equal(0x0BCD, U16(b, 2));
        Assert.Equal(0x01, b[4]);
        Assert.Equal(0ul, U64(b, 24));
        Assert.Equal(1024u, U32(b, 32));
        Assert.Equal(0x01, b[39]);
        Assert.Equal(0, U16(b, 40));
        Assert.Equal(0x0102, U16(b, 42));
        Assert.Equal(0x007F, U16(b, 44));
        Assert.Equal(0x04, b[46]);
        Assert.Equal(0, b[47]);
        Assert.Equal(120_000u, U32(b, 48));

        var read = SubmissionQueueEntry.Read(b);
        Assert.Equal(AdminOpcode.Fabrics, read.Opcode);
        Assert.Equal(FabricsCommandType.Connect, read.FabricsCommandType);
        var back = ConnectCommand.From(read);
        Assert.Equal(connect, back);
        Assert.True(back.SqFlowControlDisabled);

        Assert.Equal(42, ConnectCommand.QueueIdOffset);
        Assert.Equal(44, ConnectCommand.SubmissionQueueSizeOffset);
        Assert.Equal(48, ConnectCommand.KeepAliveOffset);
    }

    [Fact]
    public void ConnectCommandFromHandBuiltSqe()
    {
        // As a host lays it out: RECFMT @40, QID @42, SQSIZE @44, CATTR @46, KATO @48.
        byte[] b = new byte[64];
        b[0] = 0x7F;
        b[1] = 0x40;
        b[4] = 0x01;
        b[40] = 0x01;
        b[41] = 0x00;
        b[42] = 0x03;
        b[43] = 0x00;
        b[44] = 0xFF;
        b[45] = 0x00;
        b[46] = 0x00;
        b[47] = 0xEE; // reserved: ignored
        b[48] = 0x10;
        b[49] = 0x27;
        var connect = ConnectCommand.From(SubmissionQueueEntry.Read(b));
        Assert.Equal(1, connect.RecordFormat);
        Assert.Equal(3, connect.QueueId);
        Assert.Equal(255, connect.SubmissionQueueSize);
        Assert.Equal(0, connect.Attributes);
        Assert.False(connect.SqFlowControlDisabled);
        Assert.Equal(10_000u, connect.KeepAliveTimeoutMs);
    }

    [Fact]
    public void ConnectDataAtSpecOffsets()
    {
        var hostId = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        const string subsystem = "nqn.2024-01.io.novastor:subsystem-1";
        const string host = "nqn.2014-08.org.nvmexpress:uuid:00112233-4455-6677-8899-aabbccddeeff";
        var data = new ConnectData(hostId, 0xFFFF, subsystem, host);
        byte[] b = new byte[ConnectData.Length];
        b.AsSpan().Fill(0xCC);
        data.WriteTo(b);

        Assert.Equal(new byte[] { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF }, b[..16]);
        Assert.Equal(0xFFFF, U16(b, 16));
        Assert.All(b[18..256], x => Assert.Equal(0, x));
        Assert.Equal(subsystem, Encoding.UTF8.GetString(b, 256, subsystem.Length));
        Assert.All(b[(256 + subsystem.Length)..512], x => Assert.Equal(0, x));
        Assert.Equal(host, Encoding.UTF8.GetString(b, 512, host.Length));
        Assert.All(b[(512 + host.Length)..], x => Assert.Equal(0, x));

        Assert.Equal(data, ConnectData.Read(b));
        Assert.Equal(0, ConnectData.HostIdOffset);
        Assert.Equal(16, ConnectData.ControllerIdOffset);
        Assert.Equal(256, ConnectData.SubsystemNqnOffset);
        Assert.Equal(512, ConnectData.HostNqnOffset);
        Assert.Equal(0xFFFF, ConnectData.DynamicControllerId);
    }

    [Fact]
    public void ConnectDataLongestNqnKeepsItsTerminator()
    {
        string longest = "nqn.2024-01.io.test:" + new string('x', 255 - 20);
        Assert.Equal(255, longest.Length);
        var data = new ConnectData(Guid.NewGuid(), 7, longest, "nqn.h");
        byte[] b = new byte[ConnectData.Length];
        data.WriteTo(b);
        Assert.Equal(0, b[256 + 255]);
        Assert.Equal(data, ConnectData.Read(b));

        var tooLong = data with { SubsystemNqn = longest + "y" };
        Assert.Throws<ArgumentException>(() => tooLong.WriteTo(new byte[ConnectData.Length]));

        // A field filled to the end without a terminator still reads (256 bytes).
        b.AsSpan(512, 256).Fill((byte)'h');
        Assert.Equal(new string('h', 256), ConnectData.Read(b).HostNqn);
    }

    [Fact]
    public void PropertyCommandFields()
    {
        // Property Set: ATTRIB @40 (size 1 = 8 bytes), OFST @44, VALUE @48..55.
        byte[] b = new byte[64];
        b[0] = 0x7F;
        b[4] = FabricsCommandType.PropertySet;
        b[40] = 1;
        b[44] = 0x14;
        b[48] = 0x61;
        b[49] = 0x00;
        b[50] = 0x46;
        b[55] = 0x80;
        var sqe = SubmissionQueueEntry.Read(b);
        Assert.True(ControllerProperties.IsEightBytes(sqe));
        Assert.Equal(ControllerProperties.Configuration, ControllerProperties.Offset(sqe));
        Assert.Equal(0x8000_0000_0046_0061ul, ControllerProperties.SetValue(sqe));

        b[40] = 0;
        Assert.False(ControllerProperties.IsEightBytes(SubmissionQueueEntry.Read(b)));
        b[40] = 0xF8;
        Assert.False(ControllerProperties.IsEightBytes(SubmissionQueueEntry.Read(b)));
        b[40] = 0xF9;
        Assert.True(ControllerProperties.IsEightBytes(SubmissionQueueEntry.Read(b)));
    }

    [Fact]
    public void PropertyRegisters()
    {
        Assert.Equal(0x00u, ControllerProperties.Capabilities);
        Assert.Equal(0x08u, ControllerProperties.Version);
        Assert.Equal(0x14u, ControllerProperties.Configuration);
        Assert.Equal(0x1Cu, ControllerProperties.Status);
        Assert.Equal(0x20u, ControllerProperties.SubsystemReset);
        Assert.Equal(0x0002_0000u, ControllerProperties.VersionOf(2, 0));
        Assert.Equal(0x0001_0403u, ControllerProperties.VersionOf(1, 4, 3));

        ulong cap = ControllerProperties.CapabilitiesOf(127, 20, ioCommandSets: true);
        Assert.Equal(127ul, cap & 0xFFFF);
        Assert.Equal(1ul, (cap >> 16) & 1);
        Assert.Equal(20ul, (cap >> 24) & 0xFF);
        Assert.Equal(1ul, (cap >> 37) & 1);
        Assert.Equal(1ul, (cap >> 43) & 1);
        Assert.Equal(0ul, (cap >> 48) & 0xFF);
        ulong nvmOnly = ControllerProperties.CapabilitiesOf(127, 20, ioCommandSets: false);
        Assert.Equal(0ul, (nvmOnly >> 43) & 1);
        Assert.Equal(cap, nvmOnly | (1ul << 43));

        // The Linux host's enable: IOCQES=4, IOSQES=6, CSS=110b, EN=1.
        var cc = new ControllerConfiguration(0x0046_0061);
        Assert.True(cc.Enable);
        Assert.Equal(6, cc.CommandSetSelected);
        Assert.Equal(0, cc.MemoryPageSize);
        Assert.Equal(0, cc.ShutdownNotification);
        Assert.Equal(6, cc.IoSubmissionQueueEntrySize);
        Assert.Equal(4, cc.IoCompletionQueueEntrySize);
        var shutdown = new ControllerConfiguration((1u << 14) | (0xFu << 7));
        Assert.False(shutdown.Enable);
        Assert.Equal(1, shutdown.ShutdownNotification);
        Assert.Equal(15, shutdown.MemoryPageSize);

        Assert.Equal(1u, (uint)ControllerStatus.Ready);
        Assert.Equal(2u, (uint)ControllerStatus.ControllerFatalStatus);
        Assert.Equal(0b0100u, (uint)ControllerStatus.ShutdownOccurring);
        Assert.Equal(0b1000u, (uint)ControllerStatus.ShutdownComplete);
    }
}
