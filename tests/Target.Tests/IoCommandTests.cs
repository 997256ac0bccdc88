using Xunit;
using System.Buffers.Binary;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>
/// The NVM command set as a host sees it: statuses of bad commands, and what Write Zeroes,
/// Deallocate, Copy, Compare, FUA, queue depth, R2T and digests do to the bytes.
/// Tests share one target and use disjoint block ranges.
/// </summary>
public sealed class IoCommandTests(SharedTarget shared) : IClassFixture<SharedTarget>, IAsyncLifetime
{
    private const uint Nsid = 1;
    private HostController _controller = null!;
    private HostQueue _queue = null!;

    private RunningTarget Target => shared.Target;

    public async Task InitializeAsync()
    {
        _controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        _queue = await _controller.ConnectIoQueueAsync(1).Within();
    }

    public async Task DisposeAsync() => await _controller.DisposeAsync();

    private async Task<ulong> NamespaceBlocksAsync()
    {
        var ns = await _controller.IdentifyAsync(IdentifyCns.Namespace, Nsid).Within();
        return BinaryPrimitives.ReadUInt64LittleEndian(ns);
    }

    [Theory]
    [InlineData(0x03)] // reserved
    [InlineData(0x04)] // Delete I/O Completion Queue: not a fabrics command
    [InlineData(0x0D)] // Namespace Management: not supported
    [InlineData(0x80)] // Format NVM: not supported
    [InlineData(0xC1)] // vendor specific
    [InlineData(0xFF)]
    public async Task Unknown_admin_opcode_is_invalid_opcode_with_dnr(byte opcode)
    {
        var completion = await _controller.Admin.ExecuteAsync(new SubmissionQueueEntry { Opcode = opcode, NamespaceId = 1 });

        Nvme.AssertStatus(completion, 0, 0x01);
        // The queue is still in business.
        await _controller.IdentifyAsync(IdentifyCns.Controller).Within();
    }

    [Theory]
    [InlineData(0x03)] // reserved
    [InlineData(0x04)] // Write Uncorrectable: not advertised in ONCS
    [InlineData(0x06)] // Identify's opcode on an I/O queue: reserved there
    [InlineData(0x10)] // reserved (between Reservation Report 0Eh and Acquire 11h)
    [InlineData(0x18)] // Keep Alive's opcode on an I/O queue
    [InlineData(0x81)] // vendor specific
    [InlineData(0xFF)]
    public async Task Unknown_io_opcode_is_invalid_opcode_with_dnr(byte opcode)
    {
        var completion = await _queue.ExecuteAsync(new SubmissionQueueEntry { Opcode = opcode, NamespaceId = Nsid });

        Nvme.AssertStatus(completion, 0, 0x01);
        var data = Nvme.RandomBytes(512, opcode);
        await _queue.WriteAsync(5_000, data);
        Assert.Equal(data, await _queue.ReadAsync(5_000, 512));
    }

    [Fact]
    public async Task Verify_reads_the_range_without_moving_data_whatever_its_size_and_refuses_past_the_end()
    {
        ulong blocks = await NamespaceBlocksAsync();
        var data = Nvme.RandomBytes(8192, 12);
        await _queue.WriteAsync(70_000, data);

        // One block, a range in one transfer, and the most one command names (65,536 blocks, 32 MiB:
        // far beyond MDTS; Verify moves no data, VSL is 0). No C2HData comes back, only the capsule.
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.Verify(Nsid, 70_000, 1)));
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.Verify(Nsid, 70_000, 16)));
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.Verify(Nsid, 200_000, 65_536)));
        // The last block of the namespace is fine; one past it is not, even inside a long range.
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.Verify(Nsid, blocks - 1, 1)));
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Verify(Nsid, blocks - 8, 9)), 0, 0x80);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Verify(Nsid, blocks, 1)), 0, 0x80);

        // Verify changed nothing.
        Assert.Equal(data, await _queue.ReadAsync(70_000, data.Length));
    }

    [Fact]
    public async Task Reads_and_writes_past_the_end_are_lba_out_of_range()
    {
        ulong blocks = await NamespaceBlocksAsync();
        var block = Nvme.RandomBytes(512, 1);
        var large = Nvme.RandomBytes(16384, 2);

        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Write(Nsid, blocks, 1), block), 0, 0x80);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Write(Nsid, blocks - 1, 2), new byte[1024]), 0, 0x80);
        // An R2T-sized write that straddles the end is refused without asking for its data.
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Write(Nsid, blocks - 8, 32), large), 0, 0x80);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Read(Nsid, blocks - 4, 8), dataIn: new byte[4096]), 0, 0x80);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Read(Nsid, ulong.MaxValue - 1, 8), dataIn: new byte[4096]), 0, 0x80);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.WriteZeroes(Nsid, blocks, 1)), 0, 0x80);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Compare(Nsid, blocks, 1), block), 0, 0x80);

        // The last block itself is fine.
        await _queue.WriteAsync(blocks - 1, block);
        Assert.Equal(block, await _queue.ReadAsync(blocks - 1, 512));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(2u)]
    [InlineData(1025u)]
    [InlineData(0xFFFFFFFFu)]
    public async Task Io_to_an_invalid_namespace_is_invalid_namespace(uint namespaceId)
    {
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Write(namespaceId, 0, 1), new byte[512]), 0, 0x0B);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Read(namespaceId, 0, 1), dataIn: new byte[512]), 0, 0x0B);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.WriteZeroes(namespaceId, 0, 1)), 0, 0x0B);
    }

    [Fact]
    public async Task Write_zeroes_with_and_without_deallocate_reads_back_zeros_and_keeps_neighbours()
    {
        // Not 4 KiB aligned on purpose: partial pages of the backing file are involved.
        const ulong first = 10_001;
        var data = Nvme.RandomBytes(64 * 512, 10);
        await _queue.WriteAsync(first, data);

        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.WriteZeroes(Nsid, first + 8, 8)));
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.WriteZeroes(Nsid, first + 24, 16, deallocate: true)));
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.WriteZeroes(Nsid, first + 63, 1, deallocate: true)));

        var expected = (byte[])data.Clone();
        Array.Clear(expected, 8 * 512, 8 * 512);
        Array.Clear(expected, 24 * 512, 16 * 512);
        Array.Clear(expected, 63 * 512, 512);
        Assert.Equal(expected, await _queue.ReadAsync(first, data.Length));
    }

    [Fact]
    public async Task Dataset_management_deallocate_reads_back_zeros_and_keeps_neighbours()
    {
        const ulong first = 20_001;
        var data = Nvme.RandomBytes(64 * 512, 20);
        await _queue.WriteAsync(first, data);

        // Context attributes u32 @0, NLB u32 @4 (1-based), SLBA u64 @8. A zero-length range is ignored.
        var ranges = new byte[4 * 16];
        (ulong Start, uint Count)[] deallocated = [(first + 2, 3), (first + 20, 9), (first + 50, 0), (first + 63, 1)];
        for (int i = 0; i < deallocated.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(ranges.AsSpan(i * 16 + 4), deallocated[i].Count);
            BinaryPrimitives.WriteUInt64LittleEndian(ranges.AsSpan(i * 16 + 8), deallocated[i].Start);
        }

        // Without the deallocate attribute the ranges are only hints: nothing changes.
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.DatasetManagement(Nsid, deallocated.Length, deallocate: false), ranges));
        Assert.Equal(data, await _queue.ReadAsync(first, data.Length));

        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.DatasetManagement(Nsid, deallocated.Length, deallocate: true), ranges));
        var expected = (byte[])data.Clone();
        foreach (var (start, count) in deallocated)
        {
            Array.Clear(expected, (int)(start - first) * 512, (int)count * 512);
        }

        Assert.Equal(expected, await _queue.ReadAsync(first, data.Length));
    }

    [Fact]
    public async Task Dataset_management_range_past_the_end_is_lba_out_of_range_and_changes_nothing()
    {
        const ulong first = 21_001;
        ulong blocks = await NamespaceBlocksAsync();
        var data = Nvme.RandomBytes(8 * 512, 21);
        await _queue.WriteAsync(first, data);

        var ranges = new byte[2 * 16];
        BinaryPrimitives.WriteUInt32LittleEndian(ranges.AsSpan(4), 8);
        BinaryPrimitives.WriteUInt64LittleEndian(ranges.AsSpan(8), first);
        BinaryPrimitives.WriteUInt32LittleEndian(ranges.AsSpan(16 + 4), 2);
        BinaryPrimitives.WriteUInt64LittleEndian(ranges.AsSpan(16 + 8), blocks - 1);

        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.DatasetManagement(Nsid, 2, deallocate: true), ranges), 0, 0x80);
        Assert.Equal(data, await _queue.ReadAsync(first, data.Length));
    }

    [Fact]
    public async Task Flush_succeeds_after_writes()
    {
        await _queue.WriteAsync(25_000, Nvme.RandomBytes(8192, 25));
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.Flush(Nsid)));
        // VWC says broadcast flush (NSID FFFFFFFFh) is not supported: it must not claim success.
        Assert.False((await _queue.ExecuteAsync(NvmeCommands.Flush(0xFFFFFFFF))).Status.IsSuccess);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Flush(7)), 0, 0x0B);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    [InlineData(65536)]
    public async Task Fua_write_round_trip(int length)
    {
        var data = Nvme.RandomBytes(length, length);
        await _queue.WriteAsync(26_000, data, forceUnitAccess: true);
        Assert.Equal(data, await _queue.ReadAsync(26_000, length));
    }

    [Fact]
    public async Task Copy_of_several_source_ranges_copies_the_bytes()
    {
        const ulong destination = 31_000;
        (ulong Start, int Blocks)[] sources = [(30_000, 4), (30_100, 16), (30_200, 1), (30_301, 7)];
        var expected = new List<byte>();
        foreach (var (start, blocks) in sources)
        {
            var data = Nvme.RandomBytes(blocks * 512, (int)start);
            await _queue.WriteAsync(start, data);
            expected.AddRange(data);
        }

        int total = sources.Sum(s => s.Blocks);
        var after = Nvme.RandomBytes(4 * 512, 31);
        await _queue.WriteAsync(destination + (ulong)total, after);

        // Format 0 source range: SLBA u64 @8, NLB u16 @16 (0-based).
        var ranges = new byte[sources.Length * 32];
        for (int i = 0; i < sources.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(ranges.AsSpan(i * 32 + 8), sources[i].Start);
            BinaryPrimitives.WriteUInt16LittleEndian(ranges.AsSpan(i * 32 + 16), (ushort)(sources[i].Blocks - 1));
        }

        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.Copy(Nsid, destination, sources.Length), ranges));

        Assert.Equal(expected.ToArray(), await _queue.ReadAsync(destination, total * 512));
        Assert.Equal(after, await _queue.ReadAsync(destination + (ulong)total, after.Length));
    }

    [Fact]
    public async Task Copy_with_an_unsupported_format_or_past_the_end_fails_and_writes_nothing()
    {
        const ulong destination = 32_000;
        var before = Nvme.RandomBytes(512, 32);
        await _queue.WriteAsync(destination, before);
        var ranges = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(ranges.AsSpan(8), 30_000);

        var formatOne = NvmeCommands.Copy(Nsid, destination, 1);
        formatOne.Cdw12 |= 1 << 8;
        Nvme.AssertStatus(await _queue.ExecuteAsync(formatOne, ranges), 0, 0x02);

        ulong blocks = await NamespaceBlocksAsync();
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Copy(Nsid, blocks, 1), ranges), 0, 0x80);
        BinaryPrimitives.WriteUInt64LittleEndian(ranges.AsSpan(8), blocks);
        Nvme.AssertStatus(await _queue.ExecuteAsync(NvmeCommands.Copy(Nsid, destination, 1), ranges), 0, 0x80);

        Assert.Equal(before, await _queue.ReadAsync(destination, 512));
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(65536)]
    public async Task Compare_succeeds_on_equal_data_and_reports_compare_failure_on_different_data(int length)
    {
        const ulong first = 40_000;
        var data = Nvme.RandomBytes(length, 40);
        await _queue.WriteAsync(first, data);

        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.Compare(Nsid, first, length / 512), data));

        var different = (byte[])data.Clone();
        different[^1] ^= 0x01;
        var completion = await _queue.ExecuteAsync(NvmeCommands.Compare(Nsid, first, length / 512), different);
        Nvme.AssertStatus(completion, 2, 0x85, doNotRetry: false);

        // Compare never writes.
        Assert.Equal(data, await _queue.ReadAsync(first, length));
    }

    [Fact]
    public async Task Sixty_four_concurrent_random_writes_then_reads_on_two_io_queues()
    {
        var second = await _controller.ConnectIoQueueAsync(2).Within();
        HostQueue[] queues = [_queue, second];
        const int perQueue = 64;
        var random = new Random(64);
        var jobs = new List<(HostQueue Queue, ulong Block, byte[] Data)>();
        for (int q = 0; q < queues.Length; q++)
        {
            for (int i = 0; i < perQueue; i++)
            {
                // Disjoint 256-block slots, random lengths (in-capsule and R2T) and offsets inside the slot.
                int blocks = random.Next(1, 65);
                ulong slot = 100_000 + (ulong)((q * perQueue) + i) * 256;
                ulong block = slot + (ulong)random.Next(0, 256 - blocks);
                jobs.Add((queues[q], block, Nvme.RandomBytes(blocks * 512, random.Next())));
            }
        }

        // Shuffled so both queues are busy at once.
        var order = jobs.OrderBy(_ => random.Next()).ToArray();
        var writes = order.Select(j => j.Queue.SubmitAsync(NvmeCommands.Write(Nsid, j.Block, j.Data.Length / 512), j.Data)).ToArray();
        foreach (var completion in await Task.WhenAll(writes).Within())
        {
            Nvme.AssertSuccess(completion);
        }

        var buffers = order.Select(j => new byte[j.Data.Length]).ToArray();
        var reads = order.Select((j, i) => j.Queue.SubmitAsync(NvmeCommands.Read(Nsid, j.Block, j.Data.Length / 512), dataIn: buffers[i])).ToArray();
        foreach (var completion in await Task.WhenAll(reads).Within())
        {
            Nvme.AssertSuccess(completion);
        }

        for (int i = 0; i < order.Length; i++)
        {
            Assert.True(order[i].Data.AsSpan().SequenceEqual(buffers[i]), $"block {order[i].Block}: data read differs from data written");
        }
    }

    [Theory]
    [InlineData(512, 8192)]
    [InlineData(4096, 8192)]
    [InlineData(8192, 8192)]     // the largest in-capsule write
    [InlineData(8704, 8192)]     // R2T from here on
    [InlineData(12288, 8192)]
    [InlineData(65536, 8192)]
    [InlineData(131072, 8192)]   // MDTS
    [InlineData(512, 0)]         // every write by R2T
    [InlineData(8192, 0)]
    [InlineData(131072, 0)]
    public async Task In_capsule_and_r2t_writes_read_back(int length, int inCapsuleLimit)
    {
        var options = new HostQueueOptions { InCapsuleDataLimit = inCapsuleLimit };
        var queue = await _controller.ConnectIoQueueAsync(3, options: options).Within();
        ulong first = 50_000 + (ulong)(inCapsuleLimit == 0 ? 2048 : 0);
        var before = Nvme.RandomBytes(512, 49);
        await queue.WriteAsync(first - 1, before);
        var data = Nvme.RandomBytes(length, length + inCapsuleLimit);
        var afterBlock = Nvme.RandomBytes(512, 51);
        await queue.WriteAsync(first + (ulong)(length / 512), afterBlock);

        await queue.WriteAsync(first, data);

        Assert.Equal(data, await queue.ReadAsync(first, length));
        Assert.Equal(before, await queue.ReadAsync(first - 1, 512));
        Assert.Equal(afterBlock, await queue.ReadAsync(first + (ulong)(length / 512), 512));
    }

    [Fact]
    public async Task Transfers_beyond_mdts_are_refused_and_the_queue_keeps_working()
    {
        var identify = await _controller.IdentifyAsync(IdentifyCns.Controller).Within();
        int maxBytes = 4096 << identify[77];
        var data = Nvme.RandomBytes(maxBytes + 4096, 60);

        var write = await _queue.ExecuteAsync(NvmeCommands.Write(Nsid, 60_000, data.Length / 512), data);
        Assert.False(write.Status.IsSuccess, "a write larger than MDTS succeeded");
        Assert.True(write.Status.DoNotRetry);
        var read = await _queue.ExecuteAsync(NvmeCommands.Read(Nsid, 60_000, data.Length / 512), dataIn: new byte[data.Length]);
        Assert.False(read.Status.IsSuccess, "a read larger than MDTS succeeded");

        var fits = Nvme.RandomBytes(maxBytes, 61);
        await _queue.WriteAsync(60_000, fits);
        Assert.Equal(fits, await _queue.ReadAsync(60_000, fits.Length));
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Digests_protect_admin_in_capsule_r2t_and_read_transfers(bool headerDigest, bool dataDigest)
    {
        var options = new HostQueueOptions { HeaderDigest = headerDigest, DataDigest = dataDigest };
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), options: options).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        ulong first = 70_000 + (ulong)((headerDigest ? 1 : 0) + (dataDigest ? 2 : 0)) * 512;

        var identify = await controller.IdentifyAsync(IdentifyCns.Controller).Within();
        Assert.Equal(controller.ControllerId, BinaryPrimitives.ReadUInt16LittleEndian(identify.AsSpan(78)));

        var small = Nvme.RandomBytes(4096, 70);
        var large = Nvme.RandomBytes(65536 + 512, 71);
        await queue.WriteAsync(first, small);
        await queue.WriteAsync(first + 8, large);
        var whole = await queue.ReadAsync(first, small.Length + large.Length);

        Assert.Equal([.. small, .. large], whole);
        Assert.Null(queue.Failure);
    }

    [Fact]
    public async Task A_write_with_a_bad_data_digest_is_never_applied()
    {
        var options = new HostQueueOptions { DataDigest = true };
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), options: options).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        const ulong first = 80_000;
        var original = Nvme.RandomBytes(4096, 80);
        await queue.WriteAsync(first, original);

        var corrupt = Nvme.RandomBytes(4096, 81);
        var pdu = Nvme.CapsulePdu(NvmeCommands.Write(Nsid, first, 8) with { CommandId = 0xBEEF }, corrupt, dataDigest: true);
        pdu[^1] ^= 0xFF;
        await queue.SendRawAsync(pdu).Within();

        // Either the command failed (a data transfer error) or the connection ended; the bytes must not land.
        try
        {
            await queue.SubmitAsync(NvmeCommands.Flush(Nsid)).Within();
        }
        catch (NvmeTransportException)
        {
        }

        await using var checker = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var checkQueue = await checker.ConnectIoQueueAsync(1).Within();
        Assert.Equal(original, await checkQueue.ReadAsync(first, original.Length));
    }
}
