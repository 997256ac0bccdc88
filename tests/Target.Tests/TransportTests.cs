using System.Buffers.Binary;
using Microsoft.Extensions.DependencyInjection;
using NovaStor.Initiator;
using NovaStor.Protocol;
using NovaStor.Target.Hosting;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// Which transport carries the queues, and what a user relies on from either: a host that reads
/// slowly delays only its own queue and still gets every byte of every read, and queues sharing one
/// reactor keep their data apart. test.sh runs this class on both transports (the fallback engine
/// run uses Kestrel's sockets).
/// </summary>
public sealed class TransportTests
{
    [Fact]
    public async Task The_io_uring_engine_runs_the_queues_on_its_reactors_unless_sockets_are_chosen()
    {
        await using (var target = await RunningTarget.StartAsync("--NovaStor:Engine=IoUring"))
        {
            Assert.True(target.Services.GetRequiredService<SubsystemFactory>().UsesReactorTransport);
            await AssertReadsBackAsync(target, 100_000);
        }

        await using (var sockets = await RunningTarget.StartAsync("--NovaStor:Engine=IoUring", "--NovaStor:Transport=Sockets"))
        {
            Assert.False(sockets.Services.GetRequiredService<SubsystemFactory>().UsesReactorTransport);
            await AssertReadsBackAsync(sockets, 100_000);
        }
    }

    [Fact]
    public async Task The_native_AIO_engine_runs_the_queues_on_its_reactors_with_epoll_unless_sockets_are_chosen()
    {
        await using (var target = await RunningTarget.StartAsync("--NovaStor:Engine=Aio"))
        {
            var factory = target.Services.GetRequiredService<SubsystemFactory>();
            Assert.Equal(NovaStor.BlockEngine.EngineKind.Aio, factory.ActiveEngine);
            Assert.Equal(TransportKind.Epoll, factory.ActiveTransport);
            await AssertReadsBackAsync(target, 100_000);
        }

        await using (var sockets = await RunningTarget.StartAsync("--NovaStor:Engine=Aio", "--NovaStor:Transport=Sockets"))
        {
            Assert.Equal(TransportKind.Sockets, sockets.Services.GetRequiredService<SubsystemFactory>().ActiveTransport);
            await AssertReadsBackAsync(sockets, 100_000);
        }

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RunningTarget.StartAsync("--NovaStor:Engine=Aio", "--NovaStor:Transport=IoUring"));
        Assert.Contains("NovaStor:Transport IoUring needs the io_uring engine", failure.Message);
    }

    [Fact]
    public async Task Requiring_the_reactor_transport_without_io_uring_stops_start_up_with_the_reason()
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            RunningTarget.StartAsync("--NovaStor:Engine=Fallback", "--NovaStor:Transport=IoUring"));
        Assert.Contains("NovaStor:Transport IoUring needs the io_uring engine", failure.Message);
    }

    [Theory]
    [InlineData("--NovaStor:ReactorDiskSubmitBatch=-1", "NovaStor:ReactorDiskSubmitBatch -1 is outside 0..256.")]
    [InlineData("--NovaStor:ReactorDiskSubmitBatch=257", "NovaStor:ReactorDiskSubmitBatch 257 is outside 0..256.")]
    [InlineData("--NovaStor:ReactorPollMicroseconds=-5", "NovaStor:ReactorPollMicroseconds -5 is outside 0..10000.")]
    [InlineData("--NovaStor:Reactors=0", "NovaStor:Reactors 0 is outside 1..64.")]
    public async Task A_reactor_setting_out_of_range_stops_start_up_naming_the_setting_and_its_range(string setting, string expected)
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningTarget.StartAsync(setting));
        Assert.Contains(expected, failure.Message);
    }

    [Fact]
    public async Task A_host_that_reads_slowly_delays_only_its_own_queue_and_gets_every_byte_in_order()
    {
        // One reactor: the slow host's queue and the bystander's share its thread.
        await using var target = await RunningTarget.StartAsync("--NovaStor:Reactors=1");
        const int Reads = 32, ReadBytes = 128 * 1024;
        const ulong FirstBlock = 200_000;
        await using var bystander = await Bystander.StartAsync(target, 300_000);
        byte[] pattern = Nvme.RandomBytes(Reads * ReadBytes, 81);
        for (int i = 0; i < Reads; i++)
        {
            await bystander.Queue.WriteAsync(FirstBlock + ((ulong)i * (ReadBytes / 512)), pattern[(i * ReadBytes)..((i + 1) * ReadBytes)]);
        }

        var (controller, slow) = await RawConnection.OpenIoQueueAsync(target);
        await using var _ = controller;
        await using var __ = slow;
        slow.ShrinkReceiveBuffer(64 * 1024);
        var burst = new List<byte>();
        for (ushort cid = 0; cid < Reads; cid++)
        {
            var read = NvmeCommands.Read(1, FirstBlock + ((ulong)cid * (ReadBytes / 512)), ReadBytes / 512) with { CommandId = cid, Sgl = new SglDescriptor(0, ReadBytes, SglDescriptor.TransportDataBlock) };
            burst.AddRange(Nvme.CapsulePdu(read));
        }

        await slow.SendAsync(burst.ToArray());

        // 4 MiB of answers wait on a socket that takes a small part of them: the other queue keeps working meanwhile.
        for (int round = 0; round < 5; round++)
        {
            await bystander.VerifyIoAsync();
        }

        // Commands complete in any order (NVMe orders nothing between commands; the disk may finish
        // read 1 before read 0), but each command's data comes in order, whole, before its response.
        var received = new int[Reads];
        var answered = new bool[Reads];
        for (int answers = 0; answers < Reads;)
        {
            var common = await slow.ReadExactlyAsync(PduSizes.CommonHeader);
            if (common[0] == (byte)PduType.ControllerToHostData)
            {
                var header = common.Concat(await slow.ReadExactlyAsync(PduSizes.DataHeader - PduSizes.CommonHeader)).ToArray();
                var transfer = DataTransferHeader.Read(header);
                Assert.InRange(transfer.CommandId, 0, Reads - 1);
                Assert.False(answered[transfer.CommandId], $"data for read {transfer.CommandId} after its response");
                Assert.Equal((uint)received[transfer.CommandId], transfer.DataOffset);
                Assert.Equal(PduSizes.DataHeader + transfer.DataLength, BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4)));
                var data = await slow.ReadExactlyAsync((int)transfer.DataLength);
                int at = (transfer.CommandId * ReadBytes) + received[transfer.CommandId];
                Assert.True(data.AsSpan().SequenceEqual(pattern.AsSpan(at, data.Length)), $"read {transfer.CommandId} returned other bytes");
                received[transfer.CommandId] += data.Length;
            }
            else
            {
                Assert.Equal((byte)PduType.CapsuleResponse, common[0]);
                var response = common.Concat(await slow.ReadExactlyAsync(PduSizes.CapsuleResponse - PduSizes.CommonHeader)).ToArray();
                var completion = CompletionQueueEntry.Read(response.AsSpan(PduSizes.CommonHeader));
                Assert.InRange(completion.CommandId, 0, Reads - 1);
                Assert.False(answered[completion.CommandId], $"read {completion.CommandId} answered twice");
                Nvme.AssertSuccess(completion);
                Assert.Equal(ReadBytes, received[completion.CommandId]);
                answered[completion.CommandId] = true;
                answers++;
            }
        }

        await bystander.VerifyIoAsync();
    }

    [Fact]
    public async Task Queues_sharing_one_reactor_keep_their_data_apart_under_concurrent_load()
    {
        await using var target = await RunningTarget.StartAsync("--NovaStor:Reactors=1");
        await using var controller = await NvmeController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn,
            new NvmeConnectionOptions { IoQueues = 4, QueueDepth = 32 }).Within();
        Assert.Equal(4, controller.IoQueueCount);
        var ns = controller.Namespace(1);
        const int Workers = 32, Rounds = 40;
        var workers = Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            ulong first = 400_000 + ((ulong)worker * 64);
            for (int round = 0; round < Rounds; round++)
            {
                // Sizes alternate between in-capsule (4 KiB) and R2T (32 KiB) writes.
                int length = (round % 2 == 0) ? 4096 : 32768;
                byte[] data = Nvme.RandomBytes(length, (worker * 1000) + round);
                Assert.True((await ns.WriteAsync(first, data)).IsSuccess);
                byte[] back = new byte[length];
                Assert.True((await ns.ReadAsync(first, back)).IsSuccess);
                Assert.True(back.AsSpan().SequenceEqual(data), $"worker {worker} round {round} read other bytes");
            }
        })).ToArray();
        await Task.WhenAll(workers).Within(TimeSpan.FromSeconds(60));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task A_large_h2c_payload_arriving_in_pieces_lands_intact_and_its_data_digest_is_checked(bool dataDigest, bool corruptDigest)
    {
        await using var target = await RunningTarget.StartAsync();
        const int Length = 128 * 1024;
        ulong first = 500_000 + (ulong)((dataDigest ? 1 : 0) + (corruptDigest ? 2 : 0)) * 512;
        await using var bystander = await Bystander.StartAsync(target, 510_000);
        var before = Nvme.RandomBytes(Length, 90);
        await bystander.Queue.WriteAsync(first, before);

        var (controller, raw) = await RawConnection.OpenIoQueueAsync(target, headerDigest: true, dataDigest);
        await using var _ = controller;
        await using var __ = raw;
        var write = NvmeCommands.Write(1, first, Length / 512) with { CommandId = 0x31, Sgl = new SglDescriptor(0, Length, SglDescriptor.TransportDataBlock) };
        await raw.SendAsync(Nvme.CapsulePdu(write, headerDigest: true));
        var r2t = DataTransferHeader.Read(await raw.ReadExactlyAsync(PduSizes.ReadyToTransfer + PduSizes.Digest));

        var data = Nvme.RandomBytes(Length, 91);
        int digest = dataDigest ? PduSizes.Digest : 0;
        var h2c = new byte[PduSizes.DataHeader + PduSizes.Digest + Length + digest];
        int at = PduWriter.WriteDataHeader(h2c, PduType.HostToControllerData, new DataTransferHeader(0x31, r2t.TransferTag, 0, Length), last: true, success: false, headerDigest: true, dataDigest);
        data.CopyTo(h2c, at);
        if (dataDigest)
        {
            PduWriter.WriteDataDigest(h2c.AsSpan(at + Length), data);
            h2c[^1] ^= corruptDigest ? (byte)0x5A : (byte)0;
        }

        // The header and a little data first (the rest is then received straight into the command's
        // buffer), then the data in uneven pieces, the data digest split over two sends.
        int[] cuts = [at + 100, at + 5000, at + 70001, h2c.Length - 2, h2c.Length];
        int sent = 0;
        foreach (int cut in cuts)
        {
            await raw.SendAsync(h2c.AsMemory(sent, cut - sent));
            sent = cut;
            await Task.Delay(30);
        }

        var response = CompletionQueueEntry.Read((await raw.ReadExactlyAsync(PduSizes.CapsuleResponse + PduSizes.Digest)).AsSpan(PduSizes.CommonHeader));
        Assert.Equal((ushort)0x31, response.CommandId);
        if (corruptDigest)
        {
            Nvme.AssertStatus(response, 0, 0x04, doNotRetry: false); // Data Transfer Error
            Assert.Equal(before, await bystander.Queue.ReadAsync(first, Length));
        }
        else
        {
            Nvme.AssertSuccess(response);
            Assert.Equal(data, await bystander.Queue.ReadAsync(first, Length));
        }

        await bystander.VerifyIoAsync();
    }

    private static async Task AssertReadsBackAsync(RunningTarget target, ulong firstBlock)
    {
        await using var bystander = await Bystander.StartAsync(target, firstBlock);
        await bystander.VerifyIoAsync();
    }
}
