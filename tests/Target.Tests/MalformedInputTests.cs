using Xunit;
using System.Buffers.Binary;
using System.Text;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>
/// Malformed PDUs end only the connection that sent them, with a C2HTermReq carrying the right
/// FES: a controller connected before keeps doing I/O, and the target keeps accepting connections.
/// </summary>
public sealed class MalformedInputTests(SharedTarget shared) : IClassFixture<SharedTarget>
{
    private RunningTarget Target => shared.Target;

    /// <summary>A controller of its own, with I/O queue 1, whose queue will misbehave.</summary>
    private async Task<(HostController Controller, HostQueue Queue)> OffenderAsync(HostQueueOptions? options = null)
    {
        var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), options: options).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        await queue.ReadAsync(0, 512);
        return (controller, queue);
    }

    /// <summary>After the incident: the bystander still works and new hosts can connect and do I/O.</summary>
    private async Task AssertOthersUnaffectedAsync(Bystander bystander)
    {
        await bystander.VerifyIoAsync();
        await using var newcomer = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var queue = await newcomer.ConnectIoQueueAsync(1).Within();
        var data = Nvme.RandomBytes(16384, 77);
        await queue.WriteAsync(690_000, data);
        Assert.Equal(data, await queue.ReadAsync(690_000, data.Length));
        await bystander.VerifyIoAsync();
    }

    /// <summary>Splits received bytes into PDUs by PLEN.</summary>
    private static List<byte[]> SplitPdus(byte[] bytes)
    {
        var pdus = new List<byte[]>();
        int at = 0;
        while (at + PduSizes.CommonHeader <= bytes.Length)
        {
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4));
            Assert.InRange(length, PduSizes.CommonHeader, bytes.Length - at);
            pdus.Add(bytes[at..(at + length)]);
            at += length;
        }

        Assert.Equal(bytes.Length, at);
        return pdus;
    }

    [Fact]
    public async Task Bad_hlen_is_an_invalid_header_field_at_offset_2()
    {
        await using var bystander = await Bystander.StartAsync(Target, 600_000);
        var (controller, queue) = await OffenderAsync();
        await using var _ = controller;

        var pdu = Nvme.CapsulePdu(NvmeCommands.Flush(1) with { CommandId = 0x4242 });
        pdu[2] = 71;
        await queue.SendRawAsync(pdu).Within();

        await Nvme.AssertTerminatedAsync(queue, FatalErrorStatus.InvalidHeaderField, 2);
        await AssertOthersUnaffectedAsync(bystander);
    }

    [Fact]
    public async Task Bad_header_digest_is_a_header_digest_error()
    {
        var digests = new HostQueueOptions { HeaderDigest = true, DataDigest = true };
        await using var bystander = await Bystander.StartAsync(Target, 610_000, digests);
        var (controller, queue) = await OffenderAsync(digests);
        await using var _ = controller;

        var pdu = Nvme.CapsulePdu(NvmeCommands.Write(1, 611_000, 1) with { CommandId = 0x4242 }, new byte[512], headerDigest: true, dataDigest: true);
        pdu[PduSizes.CapsuleCommandHeader] ^= 0x5A; // first byte of the header digest
        await queue.SendRawAsync(pdu).Within();

        await Nvme.AssertTerminatedAsync(queue, FatalErrorStatus.HeaderDigestError);
        await AssertOthersUnaffectedAsync(bystander);
    }

    [Fact]
    public async Task A_missing_header_digest_when_negotiated_is_an_invalid_header_field()
    {
        await using var bystander = await Bystander.StartAsync(Target, 615_000);
        var (controller, queue) = await OffenderAsync(new HostQueueOptions { HeaderDigest = true });
        await using var _ = controller;

        await queue.SendRawAsync(Nvme.CapsulePdu(NvmeCommands.Flush(1) with { CommandId = 0x4242 }, headerDigest: false)).Within();

        await Nvme.AssertTerminatedAsync(queue, FatalErrorStatus.InvalidHeaderField, 1); // FEI: the flags byte
        await AssertOthersUnaffectedAsync(bystander);
    }

    [Fact]
    public async Task H2c_data_with_an_unknown_ttag_is_an_invalid_header_field_at_ttag()
    {
        await using var bystander = await Bystander.StartAsync(Target, 620_000);
        var (controller, queue) = await OffenderAsync();
        await using var _ = controller;

        var pdu = new byte[PduSizes.DataHeader + 512];
        PduWriter.WriteDataHeader(pdu, PduType.HostToControllerData, new DataTransferHeader(0x4242, 77, 0, 512), last: true, success: false, headerDigest: false, dataDigest: false);
        await queue.SendRawAsync(pdu).Within();

        await Nvme.AssertTerminatedAsync(queue, FatalErrorStatus.InvalidHeaderField, 10);
        await AssertOthersUnaffectedAsync(bystander);
    }

    [Fact]
    public async Task In_capsule_data_beyond_the_limit_is_a_data_limit_error()
    {
        await using var bystander = await Bystander.StartAsync(Target, 625_000);
        // A host that ignores IOCCSZ and puts 12 KiB in the capsule.
        var (controller, queue) = await OffenderAsync(new HostQueueOptions { InCapsuleDataLimit = 16384 });
        await using var _ = controller;

        var send = queue.SubmitAsync(NvmeCommands.Write(1, 626_000, 24), Nvme.RandomBytes(12288, 625));
        await Assert.ThrowsAsync<NvmeTransportException>(() => send.Within());

        await Nvme.AssertTerminatedAsync(queue, FatalErrorStatus.DataTransferLimitExceeded);
        await AssertOthersUnaffectedAsync(bystander);
    }

    [Fact]
    public async Task An_icreq_with_pfv_1_is_terminated_at_the_pfv_field()
    {
        await using var bystander = await Bystander.StartAsync(Target, 630_000);
        await using var raw = await RawConnection.OpenAsync(Target.EndPoint);

        await raw.SendAsync(RawConnection.InitializeRequest(formatVersion: 1));

        var termination = Nvme.AssertTermination(await raw.ReadUntilClosedAsync());
        Assert.Equal(FatalErrorStatus.InvalidHeaderField, termination.Status);
        Assert.Equal(8u, termination.ErrorInformation);
        await AssertOthersUnaffectedAsync(bystander);
    }

    public static TheoryData<string, byte[], FatalErrorStatus> GarbageFirstPdus()
    {
        var capsule = Nvme.CapsulePdu(NvmeCommands.Identify(IdentifyCns.Controller) with { CommandId = 1 });
        var response = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionResponse(0, 0, DigestOptions.None, 8192).WriteTo(response);
        var shortIcReq = RawConnection.InitializeRequest();
        BinaryPrimitives.WriteUInt32LittleEndian(shortIcReq.AsSpan(4), 64);
        var random = Nvme.RandomBytes(512, 4);
        random[0] = 0xEE;
        return new()
        {
            { "HTTP request", Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), FatalErrorStatus.InvalidHeaderField },
            { "random bytes", random, FatalErrorStatus.InvalidHeaderField },
            { "a command before ICReq", capsule, FatalErrorStatus.PduSequenceError },
            { "an ICResp from the host", response, FatalErrorStatus.InvalidHeaderField },
            { "an ICReq with PLEN 64", shortIcReq, FatalErrorStatus.InvalidHeaderField },
        };
    }

    [Theory]
    [MemberData(nameof(GarbageFirstPdus))]
    public async Task A_garbage_first_pdu_is_terminated(string what, byte[] bytes, FatalErrorStatus expected)
    {
        await using var bystander = await Bystander.StartAsync(Target, 640_000 + (ulong)(what.Length * 100));
        await using var raw = await RawConnection.OpenAsync(Target.EndPoint);

        await raw.SendAsync(bytes);

        var termination = Nvme.AssertTermination(await raw.ReadUntilClosedAsync());
        Assert.Equal(expected, termination.Status);
        await AssertOthersUnaffectedAsync(bystander);
    }

    [Fact]
    public async Task A_second_icreq_is_a_pdu_sequence_error()
    {
        await using var bystander = await Bystander.StartAsync(Target, 650_000);
        await using var raw = await RawConnection.OpenAsync(Target.EndPoint);
        var response = await raw.InitializeAsync();
        Assert.Equal(0, response.ControllerDataAlignment);
        Assert.True(response.MaxH2CData >= 4096 && response.MaxH2CData % 4 == 0);

        await raw.SendAsync(RawConnection.InitializeRequest());

        var termination = Nvme.AssertTermination(await raw.ReadUntilClosedAsync());
        Assert.Equal(FatalErrorStatus.PduSequenceError, termination.Status);
        await AssertOthersUnaffectedAsync(bystander);
    }

    [Fact]
    public async Task A_peer_closing_mid_pdu_disturbs_no_one()
    {
        await using var bystander = await Bystander.StartAsync(Target, 660_000);

        // Half a capsule, then a reset.
        await using (var raw = await RawConnection.OpenAsync(Target.EndPoint))
        {
            await raw.InitializeAsync();
            var capsule = Nvme.CapsulePdu(NvmeCommands.Flush(1) with { CommandId = 9 });
            await raw.SendAsync(capsule.AsMemory(0, 40));
            raw.Abort();
        }

        // Half an ICReq, then a plain close.
        await using (var raw = await RawConnection.OpenAsync(Target.EndPoint))
        {
            await raw.SendAsync(RawConnection.InitializeRequest().AsMemory(0, 60));
        }

        // An R2T outstanding, half of its H2CData sent, then the queue goes away. The capsule and
        // the half PDU leave in one send: the offender's own queue does not know CID 0x7777 and
        // closes when the R2T for it arrives, which may be before a second send.
        var (controller, queue) = await OffenderAsync();
        await using (controller)
        {
            var write = Nvme.CapsulePdu(NvmeCommands.Write(1, 661_000, 64) with { CommandId = 0x7777, Sgl = new SglDescriptor(0, 32768, SglDescriptor.TransportDataBlock) });
            var bytes = new byte[write.Length + PduSizes.DataHeader + 10000];
            write.CopyTo(bytes, 0);
            PduWriter.WriteDataHeader(bytes.AsSpan(write.Length), PduType.HostToControllerData, new DataTransferHeader(0x7777, 0, 0, 32768), last: true, success: false, headerDigest: false, dataDigest: false);
            await queue.SendRawAsync(bytes).Within();
        }

        await AssertOthersUnaffectedAsync(bystander);
    }

    [Fact]
    public async Task More_commands_outstanding_than_the_SQSIZE_the_host_connected_with_is_a_pdu_sequence_error()
    {
        await using var bystander = await Bystander.StartAsync(Target, 690_000);
        // SQSIZE 7 (0-based): the host may have 8 commands outstanding, as the Linux host's tag set
        // (queue depth = sqsize + 1); the queue itself could hold 128.
        var (controller, raw) = await RawConnection.OpenIoQueueAsync(Target, submissionQueueSize: 7);
        await using var _ = controller;
        await using var __ = raw;

        // Writes whose data the host never sends: each holds its slot until the queue is gone.
        var burst = new List<byte>();
        for (ushort cid = 0; cid < 9; cid++)
        {
            burst.AddRange(Nvme.CapsulePdu(NvmeCommands.Write(1, 691_000 + (ulong)cid * 8, 8) with { CommandId = (ushort)(cid + 100), Sgl = new SglDescriptor(0, 4096, SglDescriptor.TransportDataBlock) }));
        }

        await raw.SendAsync(burst.ToArray());

        var pdus = SplitPdus(await raw.ReadUntilClosedAsync());
        var termination = Nvme.AssertTermination(pdus[^1]);
        Assert.Equal(FatalErrorStatus.PduSequenceError, termination.Status);
        Assert.Equal(8, pdus.Count - 1); // an R2T for each of the 8 the queue was connected to hold
        Assert.All(pdus[..^1], r2t => Assert.Equal((byte)PduType.ReadyToTransfer, r2t[0]));
        await AssertOthersUnaffectedAsync(bystander);
    }

    [Fact]
    public async Task More_commands_outstanding_than_the_queue_holds_is_a_pdu_sequence_error()
    {
        await using var bystander = await Bystander.StartAsync(Target, 670_000);
        var (controller, raw) = await RawConnection.OpenIoQueueAsync(Target);
        await using var _ = controller;
        await using var __ = raw;

        // Writes whose data the host never sends: each holds its slot until the queue is gone.
        var burst = new List<byte>();
        for (ushort cid = 0; cid < 129; cid++)
        {
            burst.AddRange(Nvme.CapsulePdu(NvmeCommands.Write(1, 671_000 + (ulong)cid * 8, 8) with { CommandId = (ushort)(cid + 100), Sgl = new SglDescriptor(0, 4096, SglDescriptor.TransportDataBlock) }));
        }

        await raw.SendAsync(burst.ToArray());

        var pdus = SplitPdus(await raw.ReadUntilClosedAsync());
        var termination = Nvme.AssertTermination(pdus[^1]);
        Assert.Equal(FatalErrorStatus.PduSequenceError, termination.Status);
        var r2ts = pdus[..^1];
        // As many as the queue (SQSIZE 127, 0-based) holds; on the reactors, as many as its share of
        // the data buffers (NovaStor:Limits:MaxBuffersPerQueue, 64) allows: the others wait for one.
        Assert.True(r2ts.Count is 64 or 127 or 128, $"{r2ts.Count} R2Ts");
        var tags = new HashSet<ushort>();
        foreach (var r2t in r2ts)
        {
            Assert.Equal((byte)PduType.ReadyToTransfer, r2t[0]);
            var request = DataTransferHeader.Read(r2t);
            Assert.Equal(0u, request.DataOffset);
            Assert.Equal(4096u, request.DataLength);
            Assert.True(tags.Add(request.TransferTag), $"TTAG {request.TransferTag} given to two commands");
        }

        await AssertOthersUnaffectedAsync(bystander);
    }

    [Theory]
    [InlineData(0u, 8192u)]   // more than the R2T asked for
    [InlineData(512u, 512u)]  // not at the offset the R2T asked for
    public async Task H2c_data_outside_the_r2t_is_a_data_transfer_out_of_range(uint offset, uint length)
    {
        await using var bystander = await Bystander.StartAsync(Target, 680_000 + offset);
        var (controller, raw) = await RawConnection.OpenIoQueueAsync(Target);
        await using var _ = controller;
        await using var __ = raw;
        var before = Nvme.RandomBytes(4096, 680);
        await bystander.Queue.WriteAsync(681_000 + offset, before);

        var write = NvmeCommands.Write(1, 681_000 + offset, 8) with { CommandId = 0x55, Sgl = new SglDescriptor(0, 4096, SglDescriptor.TransportDataBlock) };
        await raw.SendAsync(Nvme.CapsulePdu(write));
        var r2t = DataTransferHeader.Read(await raw.ReadExactlyAsync(PduSizes.ReadyToTransfer));
        Assert.Equal((ushort)0x55, r2t.CommandId);
        Assert.Equal(4096u, r2t.DataLength);

        var h2c = new byte[PduSizes.DataHeader + length];
        PduWriter.WriteDataHeader(h2c, PduType.HostToControllerData, new DataTransferHeader(0x55, r2t.TransferTag, offset, length), last: true, success: false, headerDigest: false, dataDigest: false);
        await raw.SendAsync(h2c);

        var termination = Nvme.AssertTermination(await raw.ReadUntilClosedAsync());
        Assert.Equal(FatalErrorStatus.DataTransferOutOfRange, termination.Status);
        Assert.Equal(before, await bystander.Queue.ReadAsync(681_000 + offset, 4096)); // nothing written
        await AssertOthersUnaffectedAsync(bystander);
    }
}
