using Xunit;
using System.Buffers.Binary;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>
/// The PDUs themselves, byte by byte, as the Linux host checks them (it ignores PDO and reads data
/// right after the header, cannot reassemble split reads, and checks every digest flag).
/// </summary>
public sealed class WireFormatTests(SharedTarget shared) : IClassFixture<SharedTarget>
{
    private RunningTarget Target => shared.Target;

    [Theory]
    [InlineData(DigestOptions.None)]
    [InlineData(DigestOptions.Header)]
    [InlineData(DigestOptions.Data)]
    [InlineData(DigestOptions.Header | DigestOptions.Data)]
    public async Task Icresp_answers_exactly_what_was_asked(DigestOptions digests)
    {
        await using var raw = await RawConnection.OpenAsync(Target.EndPoint);
        var response = await raw.InitializeAsync(digests);

        Assert.Equal(0, response.FormatVersion);
        Assert.Equal(0, response.ControllerDataAlignment);
        Assert.Equal(digests, response.Digests);
        Assert.True(response.MaxH2CData >= 4096 && response.MaxH2CData % 4 == 0, $"MAXH2CDATA {response.MaxH2CData}");
    }

    [Theory]
    [InlineData(false, false, 4096)]
    [InlineData(true, true, 4096)]
    [InlineData(true, false, 131072)]
    [InlineData(false, true, 131072)]
    public async Task R2t_h2c_data_c2h_data_and_responses_have_the_layout_hosts_expect(bool headerDigest, bool dataDigest, int length)
    {
        var (controller, raw) = await RawConnection.OpenIoQueueAsync(Target, headerDigest, dataDigest);
        await using var _ = controller;
        await using var __ = raw;
        int digest = headerDigest ? PduSizes.Digest : 0;
        int dataDigestLength = dataDigest ? PduSizes.Digest : 0;
        ulong first = 800_000 + (ulong)((headerDigest ? 1 : 0) + (dataDigest ? 2 : 0)) * 512;
        var data = Nvme.RandomBytes(length, length);

        // Write by R2T: one R2T for the whole command, then H2CData.
        var write = NvmeCommands.Write(1, first, length / 512) with { CommandId = 0x22, Sgl = new SglDescriptor(0, (uint)length, SglDescriptor.TransportDataBlock) };
        await raw.SendAsync(Nvme.CapsulePdu(write, headerDigest: headerDigest));
        var r2t = await raw.ReadExactlyAsync(PduSizes.ReadyToTransfer + digest);
        AssertHeader(r2t, PduType.ReadyToTransfer, headerDigest, expectedLength: PduSizes.ReadyToTransfer + digest);
        Assert.Equal(0, r2t[3]); // PDO: no data
        var request = DataTransferHeader.Read(r2t);
        Assert.Equal((ushort)0x22, request.CommandId);
        Assert.Equal(0u, request.DataOffset);
        Assert.Equal((uint)length, request.DataLength);

        await raw.SendAsync(H2CData(request, data, headerDigest, dataDigest));
        var written = AssertResponse(await raw.ReadExactlyAsync(PduSizes.CapsuleResponse + digest), 0x22, headerDigest);

        // SQ flow control is on: SQHD counts the commands the controller took (Connect, then the write).
        Assert.Equal(1, raw.ConnectCompletion.SubmissionQueueHead);
        Assert.Equal(2, written.SubmissionQueueHead);

        // Read: one C2HData with all the data right after the header, LAST set, then the response.
        var read = NvmeCommands.Read(1, first, length / 512) with { CommandId = 0x23, Sgl = new SglDescriptor(0, (uint)length, SglDescriptor.TransportDataBlock) };
        await raw.SendAsync(Nvme.CapsulePdu(read, headerDigest: headerDigest));
        int c2hLength = PduSizes.DataHeader + digest + length + dataDigestLength;
        var c2h = await raw.ReadExactlyAsync(c2hLength);
        AssertHeader(c2h, PduType.ControllerToHostData, headerDigest, expectedLength: c2hLength);
        Assert.Equal(PduSizes.DataHeader + digest, c2h[3]);                      // PDO: right after the header (and its digest)
        var flags = (PduFlags)c2h[1];
        Assert.True((flags & PduFlags.LastPdu) != 0, "LAST_PDU missing on the only C2HData");
        Assert.Equal(dataDigest, (flags & PduFlags.DataDigest) != 0);
        var transfer = DataTransferHeader.Read(c2h);
        Assert.Equal((ushort)0x23, transfer.CommandId);
        Assert.Equal(0u, transfer.DataOffset);
        Assert.Equal((uint)length, transfer.DataLength);
        var received = c2h.AsSpan(PduSizes.DataHeader + digest, length);
        Assert.True(received.SequenceEqual(data), "C2HData carries other bytes than were written");
        if (dataDigest)
        {
            Assert.Equal(Crc32C.Compute(received), BinaryPrimitives.ReadUInt32LittleEndian(c2h.AsSpan(PduSizes.DataHeader + digest + length)));
        }

        // SQ flow control is on (no CATTR bit 2 in Connect): the read ends with its CapsuleResp.
        Assert.True((flags & PduFlags.Success) == 0, "SUCCESS on a C2HData of a queue with SQ flow control");
        AssertResponse(await raw.ReadExactlyAsync(PduSizes.CapsuleResponse + digest), 0x23, headerDigest);
    }

    [Theory]
    [InlineData(false, false, 4096)]
    [InlineData(true, true, 4096)]
    [InlineData(false, true, 131072)]
    public async Task With_sq_flow_control_disabled_a_read_ends_with_its_successful_c2h_data(bool headerDigest, bool dataDigest, int length)
    {
        // nvme connect --disable-sqflow (and connect-all, seeing TREQ bit 2) sets CATTR bit 2.
        var (controller, raw) = await RawConnection.OpenIoQueueAsync(Target, headerDigest, dataDigest, connectAttributes: ConnectCommand.DisableSqFlowControl);
        await using var _ = controller;
        await using var __ = raw;
        int digest = headerDigest ? PduSizes.Digest : 0;
        int dataDigestLength = dataDigest ? PduSizes.Digest : 0;
        ulong first = 820_000 + (ulong)((headerDigest ? 1 : 0) + (dataDigest ? 2 : 0)) * 512;
        var data = Nvme.RandomBytes(length, length + 7);
        var write = NvmeCommands.Write(1, first, length / 512) with { CommandId = 0x30, Sgl = new SglDescriptor(0, (uint)length, SglDescriptor.TransportDataBlock) };
        await raw.SendAsync(Nvme.CapsulePdu(write, headerDigest: headerDigest));
        var request = DataTransferHeader.Read(await raw.ReadExactlyAsync(PduSizes.ReadyToTransfer + digest));
        await raw.SendAsync(H2CData(request, data, headerDigest, dataDigest));
        var written = AssertResponse(await raw.ReadExactlyAsync(PduSizes.CapsuleResponse + digest), 0x30, headerDigest); // a write still gets its CapsuleResp

        // The Connect's completion says FFFFh: this controller leaves SQHD out from now on (TP 8005,
        // as nvmet). A host that counts SQHD otherwise (FreeBSD's) would see reads completed by
        // their data never advance it. Later completions carry 0.
        Assert.Equal(0xFFFF, raw.ConnectCompletion.SubmissionQueueHead);
        Assert.Equal(0, written.SubmissionQueueHead);

        // The read: one C2HData with LAST_PDU and SUCCESS, and no CapsuleResp after it. The Flush
        // sent behind it proves that: the next PDU is the Flush's response.
        var read = NvmeCommands.Read(1, first, length / 512) with { CommandId = 0x31, Sgl = new SglDescriptor(0, (uint)length, SglDescriptor.TransportDataBlock) };
        await raw.SendAsync(Nvme.CapsulePdu(read, headerDigest: headerDigest));
        int c2hLength = PduSizes.DataHeader + digest + length + dataDigestLength;
        var c2h = await raw.ReadExactlyAsync(c2hLength);
        AssertHeader(c2h, PduType.ControllerToHostData, headerDigest, expectedLength: c2hLength);
        var flags = (PduFlags)c2h[1];
        Assert.True((flags & PduFlags.LastPdu) != 0, "LAST_PDU missing: SUCCESS is only allowed on the last C2HData");
        Assert.True((flags & PduFlags.Success) != 0, "SUCCESS missing on a read of a queue with SQ flow control disabled");
        Assert.Equal(dataDigest, (flags & PduFlags.DataDigest) != 0);
        Assert.Equal((ushort)0x31, DataTransferHeader.Read(c2h).CommandId);
        Assert.True(c2h.AsSpan(PduSizes.DataHeader + digest, length).SequenceEqual(data), "C2HData carries other bytes than were written");
        if (dataDigest)
        {
            Assert.Equal(Crc32C.Compute(data), BinaryPrimitives.ReadUInt32LittleEndian(c2h.AsSpan(PduSizes.DataHeader + digest + length)));
        }

        await raw.SendAsync(Nvme.CapsulePdu(NvmeCommands.Flush(1) with { CommandId = 0x32 }, headerDigest: headerDigest));
        Assert.Equal(0, AssertResponse(await raw.ReadExactlyAsync(PduSizes.CapsuleResponse + digest), 0x32, headerDigest).SubmissionQueueHead);

        // A read that fails sends no data: its error still comes in a CapsuleResp.
        var past = NvmeCommands.Read(1, ulong.MaxValue - 8, 1) with { CommandId = 0x33, Sgl = new SglDescriptor(0, 512, SglDescriptor.TransportDataBlock) };
        await raw.SendAsync(Nvme.CapsulePdu(past, headerDigest: headerDigest));
        var failed = await raw.ReadExactlyAsync(PduSizes.CapsuleResponse + digest);
        Assert.Equal((byte)PduType.CapsuleResponse, failed[0]);
        var completion = CompletionQueueEntry.Read(failed.AsSpan(PduSizes.CommonHeader));
        Assert.Equal((ushort)0x33, completion.CommandId);
        Assert.False(completion.Status.IsSuccess, "a read past the end succeeded");
    }

    /// <summary>The one H2CData PDU that answers <paramref name="r2t"/> with all of <paramref name="data"/> (and its digests).</summary>
    private static byte[] H2CData(in DataTransferHeader r2t, byte[] data, bool headerDigest, bool dataDigest)
    {
        var h2c = new byte[PduSizes.DataHeader + (headerDigest ? PduSizes.Digest : 0) + data.Length + (dataDigest ? PduSizes.Digest : 0)];
        var transfer = new DataTransferHeader(r2t.CommandId, r2t.TransferTag, 0, (uint)data.Length);
        int at = PduWriter.WriteDataHeader(h2c, PduType.HostToControllerData, transfer, last: true, success: false, headerDigest, dataDigest);
        data.CopyTo(h2c, at);
        if (dataDigest)
        {
            PduWriter.WriteDataDigest(h2c.AsSpan(at + data.Length), data);
        }

        return h2c;
    }

    private static void AssertHeader(byte[] pdu, PduType type, bool headerDigest, int expectedLength)
    {
        Assert.Equal((byte)type, pdu[0]);
        Assert.Equal(PduSizes.DataHeader, pdu[2]);                                              // HLEN 24
        Assert.Equal(headerDigest, (pdu[1] & (byte)PduFlags.HeaderDigest) != 0);                // HDGSTF exactly when negotiated
        Assert.Equal((uint)expectedLength, BinaryPrimitives.ReadUInt32LittleEndian(pdu.AsSpan(4))); // PLEN
        if (headerDigest)
        {
            Assert.Equal(Crc32C.Compute(pdu.AsSpan(0, PduSizes.DataHeader)), BinaryPrimitives.ReadUInt32LittleEndian(pdu.AsSpan(PduSizes.DataHeader)));
        }
    }

    private static CompletionQueueEntry AssertResponse(byte[] pdu, ushort commandId, bool headerDigest)
    {
        AssertHeader(pdu, PduType.CapsuleResponse, headerDigest, PduSizes.CapsuleResponse + (headerDigest ? PduSizes.Digest : 0));
        Assert.Equal(0, pdu[1] & (byte)PduFlags.DataDigest);
        var completion = CompletionQueueEntry.Read(pdu.AsSpan(PduSizes.CommonHeader));
        Assert.Equal(commandId, completion.CommandId);
        Assert.Equal(1, completion.SubmissionQueueId);
        Nvme.AssertSuccess(completion);
        return completion;
    }

    [Fact]
    public async Task Many_large_transfers_in_flight_on_one_digested_queue_never_interleave()
    {
        var options = new HostQueueOptions { HeaderDigest = true, DataDigest = true };
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), options: options).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        const int count = 32, length = 131072;
        var data = Enumerable.Range(0, count).Select(i => Nvme.RandomBytes(length, 900 + i)).ToArray();
        ulong Block(int i) => 900_000 + (ulong)i * (length / 512);

        var writes = Enumerable.Range(0, count).Select(i => queue.SubmitAsync(NvmeCommands.Write(1, Block(i), length / 512), data[i])).ToArray();
        foreach (var completion in await Task.WhenAll(writes).Within())
        {
            Nvme.AssertSuccess(completion);
        }

        var buffers = Enumerable.Range(0, count).Select(_ => new byte[length]).ToArray();
        var reads = Enumerable.Range(0, count).Select(i => queue.SubmitAsync(NvmeCommands.Read(1, Block(i), length / 512), dataIn: buffers[i])).ToArray();
        foreach (var completion in await Task.WhenAll(reads).Within())
        {
            Nvme.AssertSuccess(completion);
        }

        for (int i = 0; i < count; i++)
        {
            Assert.True(data[i].AsSpan().SequenceEqual(buffers[i]), $"transfer {i} came back different");
        }

        Assert.Null(queue.Failure);
    }

    [Fact]
    public async Task Async_event_requests_wait_without_blocking_the_admin_queue_and_are_limited()
    {
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var identify = await controller.IdentifyAsync(IdentifyCns.Controller).Within();
        int limit = identify[259] + 1; // AERL is 0-based

        var parked = Enumerable.Range(0, limit).Select(_ => controller.Admin.SubmitAsync(new SubmissionQueueEntry { Opcode = AdminOpcode.AsyncEventRequest })).ToArray();
        // Other admin commands still complete while the AERs wait for an event.
        await controller.IdentifyAsync(IdentifyCns.Controller).Within();
        Nvme.AssertSuccess(await controller.Admin.ExecuteAsync(NvmeCommands.KeepAlive()));
        Assert.All(parked, task => Assert.False(task.IsCompleted, "an AER completed without an event"));

        var extra = await controller.Admin.ExecuteAsync(new SubmissionQueueEntry { Opcode = AdminOpcode.AsyncEventRequest });
        Nvme.AssertStatus(extra, 1, 0x05); // Asynchronous Event Request Limit Exceeded
    }

    [Fact]
    public async Task Losing_the_admin_queue_closes_every_io_queue_of_the_controller()
    {
        await using var bystander = await Bystander.StartAsync(Target, 950_000);
        var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var first = await controller.ConnectIoQueueAsync(1).Within();
        var second = await controller.ConnectIoQueueAsync(2).Within();

        await controller.Admin.DisposeAsync();

        await Nvme.ClosedWithAsync(first, TimeSpan.FromSeconds(5));
        await Nvme.ClosedWithAsync(second, TimeSpan.FromSeconds(5));
        await controller.DisposeAsync(); // disposing again is harmless
        await bystander.VerifyIoAsync();
    }
}
