using System.Buffers.Binary;
using System.Diagnostics;
using NovaStor.Conformance.KernelHost;
using NovaStor.Initiator;
using NovaStor.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Conformance.KernelTarget;

/// <summary>
/// The managed initiator against the reference: the Linux kernel target (nvmet-tcp) in a QEMU
/// guest, reached at 127.0.0.1 through hostfwd. One guest serves the whole class; each test uses
/// its own block ranges (<see cref="Region"/>) so the order of the tests does not matter. In the
/// kernel-host collection so that two guests never boot at once on a 2-core machine.
/// </summary>
[Collection(KernelHostCollection.Name)]
public sealed partial class KernelTargetTests : IClassFixture<KernelTargetGuest>, IDisposable
{
    private readonly KernelTargetGuest _guest;
    private readonly ITestOutputHelper _output;
    private readonly int _consoleStart;
    private readonly HostIdentity _host = HostIdentity.Create();

    public KernelTargetTests(KernelTargetGuest guest, ITestOutputHelper output)
    {
        _guest = guest;
        _output = output;
        _consoleStart = guest.ConsoleLength;
        output.WriteLine($"kernel target at {guest.EndPoint}, {guest.SubsystemNqn}, booted in {guest.BootTime.TotalSeconds:F1} s");
    }

    /// <summary>What the guest printed during the test (nvmet's kernel messages are the kmsg: lines).</summary>
    public void Dispose() => _output.WriteLine(_guest.ConsoleSince(_consoleStart));

    [Fact]
    public async Task Discovery_log_lists_the_subsystem()
    {
        await using var discovery = await KernelTargetIo.ConnectAsync(_guest, _host, KernelTargetIo.DiscoveryNqn);
        var controller = await discovery.IdentifyAsync(0x01);
        Assert.Equal(2, controller[111]);   // CNTRLTYPE: discovery controller

        var header = await discovery.LogPageAsync(0x70, 1024);
        ulong records = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
        Assert.InRange(records, 1UL, 16UL);
        var log = await discovery.LogPageAsync(0x70, (int)(1024 * (records + 1)));
        var entries = Enumerable.Range(1, (int)records).Select(i => log.AsSpan(i * 1024, 1024).ToArray()).ToList();
        foreach (var e in entries)
        {
            _output.WriteLine($"entry: trtype {e[0]} adrfam {e[1]} subtype {e[2]} treq {e[3]} portid {BinaryPrimitives.ReadUInt16LittleEndian(e.AsSpan(4))} trsvcid '{KernelTargetIo.Text(e, 32, 32)}' traddr '{KernelTargetIo.Text(e, 512, 256)}' subnqn '{KernelTargetIo.Text(e, 256, 256)}'");
        }

        var ours = Assert.Single(entries, e => KernelTargetIo.Text(e, 256, 256) == _guest.SubsystemNqn);
        Assert.Equal(3, ours[0]);   // TRTYPE TCP
        Assert.Equal(1, ours[1]);   // ADRFAM IPv4
        Assert.Equal(2, ours[2]);   // SUBTYPE NVM subsystem
        Assert.Equal(4, ours[3] & 4);  // TREQ bit 2: SQ flow control disable supported (nvmet's default; ours says so too)
        // The guest's own port: the host reaches it through a different, forwarded port.
        Assert.Equal("4420", KernelTargetIo.Text(ours, 32, 32));
    }

    [Fact]
    public async Task Identify_controller_reports_the_Linux_target()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host);
        var id = await controller.IdentifyAsync(0x01);
        string model = KernelTargetIo.Text(id, 24, 40);
        ushort oncs = BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(520));
        uint ioccsz = BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(1792));
        _output.WriteLine($"model '{model}' firmware '{KernelTargetIo.Text(id, 64, 8)}' MDTS {id[77]} CNTLID {BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(78))} ONCS {oncs:X4}h VWC {id[525]:X2}h IOCCSZ {ioccsz} KAS {BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(320))}");

        Assert.Contains("Linux", model, StringComparison.Ordinal);
        Assert.Equal(_guest.SubsystemNqn, KernelTargetIo.Text(id, 768, 256));
        Assert.Equal(controller.ControllerId, BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(78)));
        Assert.Equal(1, id[111]);   // CNTRLTYPE: I/O controller
        Assert.True((oncs & 0b1100) == 0b1100, $"ONCS {oncs:X4}h lacks DSM or Write Zeroes");
        Assert.True(ioccsz >= 4, $"IOCCSZ {ioccsz}");
    }

    [Fact]
    public async Task Identify_namespaces_match_the_configuration()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host);
        var active = await controller.IdentifyAsync(0x02);
        var ids = Enumerable.Range(0, 1024).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(active.AsSpan(i * 4))).TakeWhile(id => id != 0).ToArray();
        Assert.Equal(_guest.Namespaces.Select(ns => ns.Id), ids);

        foreach (var ns in _guest.Namespaces)
        {
            var id = await controller.IdentifyAsync(0x00, ns.Id);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(id);
            int format = id[26] & 0xF;
            int lbads = id[128 + (4 * format) + 2];
            _output.WriteLine($"ns {ns.Id}: NSZE {size} NCAP {BinaryPrimitives.ReadUInt64LittleEndian(id.AsSpan(8))} LBADS {lbads} DLFEAT {id[33]:X2}h NOWS {BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(72))}");
            Assert.Equal(ns.Blocks, size);
            Assert.Equal(ns.BlockSize, 1 << lbads);
        }
    }

    /// <summary>Writes in-capsule (up to IOCCSZ, 16 KiB) and by R2T (above it), all outstanding at once, then reads them back one by one and in one read.</summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Writes_read_back_at_several_offsets_and_sizes(bool headerDigest, bool dataDigest)
    {
        var options = new HostQueueOptions { HeaderDigest = headerDigest, DataDigest = dataDigest };
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host, options: options);
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller);
        int region = (headerDigest ? 1 : 0) + (dataDigest ? 2 : 0);
        foreach (var ns in _guest.Namespaces)
        {
            await WriteAndVerifyAsync(queue, ns, Region(ns, region), [ns.BlockSize, 4096, 8192, 16384, 16384 + ns.BlockSize, 65536, 256 * 1024, 1024 * 1024], seed: region * 10);
        }
    }

    /// <summary>
    /// SQ flow control disabled in Connect (CATTR bit 2, as nvme-cli's --disable-sqflow, and as
    /// connect-all asks when TREQ offers it, which nvmet does): nvmet then completes each successful
    /// read with its C2HData's SUCCESS flag and sends no CapsuleResp, and the initiator must take
    /// that as the completion (with the data digest checked first).
    /// </summary>
    [Theory]
    [InlineData(false, 8)]
    [InlineData(true, 9)]
    public async Task Reads_complete_on_their_data_when_sq_flow_control_is_disabled(bool dataDigest, int region)
    {
        var options = new HostQueueOptions { DataDigest = dataDigest, DisableSqFlowControl = true };
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host, options: options);
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller);
        // nvmet agreed (SQHD FFFFh in its Connect completions, TP 8005), as NovaStor's target does.
        Assert.True(controller.Admin.SqFlowControlDisabled, "nvmet did not answer the admin Connect with SQHD FFFFh");
        Assert.True(queue.SqFlowControlDisabled, "nvmet did not answer the I/O queue's Connect with SQHD FFFFh");
        foreach (var ns in _guest.Namespaces)
        {
            await WriteAndVerifyAsync(queue, ns, Region(ns, region), [ns.BlockSize, 4096, 65536, 256 * 1024, 1024 * 1024], seed: region * 10);
        }

        // A read that fails still ends with a CapsuleResp carrying its status.
        var ns1 = _guest.Namespace(1);
        var past = await queue.TryReadAsync(ns1, ns1.Blocks, 1);
        Assert.False(past.Status.IsSuccess, "a read past the end succeeded");
    }

    /// <summary>
    /// A kernel-target quirk the initiator has to live with: a write no longer than nvmet's inline
    /// data size, sent with a transport SGL (expecting R2T) instead of in the capsule, is held
    /// forever waiting for in-capsule data (nvmet_tcp_queue_response). If this starts to fail, the
    /// kernel changed and the IOCCSZ-sized in-capsule limit in KernelTargetIo is merely an optimisation.
    /// </summary>
    [Fact]
    public async Task Write_within_the_inline_size_without_in_capsule_data_gets_no_R2T()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host);
        int inCapsule = await KernelTargetIo.InCapsuleLimitAsync(controller);
        _output.WriteLine($"in-capsule data limit from IOCCSZ: {inCapsule} B");
        Assert.True(inCapsule >= 8192 + 4096, $"IOCCSZ allows only {inCapsule} B in-capsule");
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller, controller.Options with { InCapsuleDataLimit = 4096 });
        var ns = _guest.Namespace(1);
        var write = queue.SubmitAsync(NvmeCommands.Write(ns.Id, Region(ns, 4), 8192 / ns.BlockSize), KernelTargetIo.RandomBytes(8192, 4));
        var finished = await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(5)));
        if (finished == write)
        {
            var completion = await write;
            Assert.Fail($"the 8 KiB write by R2T completed ({completion.Status}): nvmet-tcp no longer stalls it");
        }
    }

    /// <summary>
    /// nvmet advertises MDTS 0 (no limit) but refuses any transfer, read or write, longer than its
    /// MAXH2CDATA (4 MiB) with Data SGL Length Invalid: the initiator has to cap its transfers
    /// there. A MAXH2CDATA write needs one R2T and one H2CData PDU.
    /// </summary>
    [Fact]
    public async Task Transfers_up_to_MAXH2CDATA_round_trip_and_longer_ones_are_refused()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host, options: new HostQueueOptions { DataDigest = true });
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller);
        _output.WriteLine($"MAXH2CDATA {queue.MaxH2CData} B");
        var ns = _guest.Namespace(2);
        int size = (int)queue.MaxH2CData;
        Assert.True(size + ns.BlockSize <= 8 * 1024 * 1024, $"MAXH2CDATA {queue.MaxH2CData} is too large for this test's 8 MiB region");
        ulong start = Region(ns, 10);
        await WriteAndVerifyAsync(queue, ns, start, [size], seed: 100);

        int blocks = (size / ns.BlockSize) + 1;
        var write = await queue.ExecuteAsync(NvmeCommands.Write(ns.Id, start, blocks), KernelTargetIo.RandomBytes(blocks * ns.BlockSize, 101));
        var read = await queue.TryReadAsync(ns, start, blocks);
        _output.WriteLine($"{blocks * ns.BlockSize} B: write answered {write.Status}, read answered {read.Status}");
        Assert.False(write.Status.IsSuccess, "a write longer than MAXH2CDATA succeeded: the limit moved, update this test");
        Assert.False(read.Status.IsSuccess, "a read longer than MAXH2CDATA succeeded: the limit moved, update this test");
        await queue.ReadAsync(ns, start, ns.BlockSize);   // the queue is still usable
    }

    [Fact]
    public async Task Last_block_is_usable_and_beyond_it_fails()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host);
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller);
        foreach (var ns in _guest.Namespaces)
        {
            var data = KernelTargetIo.RandomBytes(2 * ns.BlockSize, (int)ns.Id);
            await queue.WriteAsync(ns, ns.Blocks - 2, data);
            KernelTargetIo.AssertSameBytes(data, await queue.ReadAsync(ns, ns.Blocks - 2, data.Length), $"ns {ns.Id} last blocks");

            var beyond = await queue.TryReadAsync(ns, ns.Blocks - 1, 2);
            _output.WriteLine($"ns {ns.Id}: read across the end answered {beyond.Status}");
            Assert.False(beyond.Status.IsSuccess, $"ns {ns.Id}: a read past NSZE succeeded");
        }
    }

    [Fact]
    public async Task Flush_succeeds()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host);
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller);
        foreach (var ns in _guest.Namespaces)
        {
            await queue.WriteAsync(ns, Region(ns, 5), KernelTargetIo.RandomBytes(ns.BlockSize * 8, 50));
            KernelTargetIo.AssertSuccess($"Flush ns {ns.Id}", await queue.FlushAsync(ns));
        }
    }

    [Fact]
    public async Task Write_zeroes_reads_back_zeros_and_spares_the_neighbours()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host);
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller);
        foreach (var ns in _guest.Namespaces)
        {
            await ClearsMiddleAsync(queue, ns, Region(ns, 6), "Write Zeroes", (first, blocks) => queue.WriteZeroesAsync(ns, first, blocks));
        }
    }

    /// <summary>Loop over tmpfs punches a hole for a deallocate, so the blocks read back as zeros.</summary>
    [Fact]
    public async Task Deallocate_reads_back_zeros_and_spares_the_neighbours()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host);
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller);
        foreach (var ns in _guest.Namespaces)
        {
            await ClearsMiddleAsync(queue, ns, Region(ns, 7), "Dataset Management (deallocate)", (first, blocks) => queue.DeallocateAsync(ns, first, blocks));
        }
    }

    /// <summary>KATO 5 s and idle for more than three periods, sending only Keep Alive every KATO/2 (the initiator has no timer yet).</summary>
    [Fact]
    public async Task Keep_alive_holds_an_idle_association()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host, keepAliveMs: 5000);
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller);
        var idle = Stopwatch.StartNew();
        while (idle.Elapsed < TimeSpan.FromSeconds(16))
        {
            await Task.Delay(2500);
            await controller.KeepAliveAsync();
        }

        uint status = await controller.PropertyGetAsync(0x1C);
        Assert.True((status & 0x2) == 0, $"CSTS {status:X}h: fatal status after idling with keep-alives");
        Assert.True((status & 0x1) == 1, $"CSTS {status:X}h: not ready after idling with keep-alives");
        var ns = _guest.Namespace(1);
        await queue.ReadAsync(ns, 0, ns.BlockSize);
        Assert.Null(controller.Admin.Failure);
        Assert.Null(queue.Failure);
    }

    /// <summary>Without keep-alives nvmet declares the controller dead and closes every queue of it.</summary>
    [Fact]
    public async Task Keep_alive_timeout_ends_the_association()
    {
        await using var controller = await KernelTargetIo.ConnectAsync(_guest, _host, keepAliveMs: 5000);
        var queue = await KernelTargetIo.ConnectIoQueueAsync(controller);
        var idle = Stopwatch.StartNew();
        var adminClosed = await controller.Admin.WaitForCloseAsync().WaitAsync(TimeSpan.FromSeconds(30));
        _output.WriteLine($"admin queue closed after {idle.Elapsed.TotalSeconds:F1} s idle: {adminClosed?.Message}");
        Assert.InRange(idle.Elapsed, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(30));
        await queue.WaitForCloseAsync().WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// Block ranges per test, so that tests sharing the guest never overlap: region i is the i-th
    /// 4 MiB of the namespace, starting one block in (not aligned to 4 KiB on 512-byte namespaces).
    /// </summary>
    private static ulong Region(KernelTargetNamespace ns, int index) => (ulong)((index * 4L * 1024 * 1024 / ns.BlockSize) + 1);

    private async Task WriteAndVerifyAsync(HostQueue queue, KernelTargetNamespace ns, ulong start, int[] sizes, int seed)
    {
        // One gap block between writes, so a write that spills over shows in the neighbour's check.
        var writes = new List<(ulong Block, byte[] Data)>();
        ulong block = start;
        foreach (int size in sizes.Where(s => s % ns.BlockSize == 0))
        {
            writes.Add((block, KernelTargetIo.RandomBytes(size, seed + writes.Count)));
            block += (ulong)(size / ns.BlockSize) + 1;
        }

        await Task.WhenAll(writes.Select(w => queue.WriteAsync(ns, w.Block, w.Data)));
        var reads = await Task.WhenAll(writes.Select(w => queue.ReadAsync(ns, w.Block, w.Data.Length)));
        for (int i = 0; i < writes.Count; i++)
        {
            KernelTargetIo.AssertSameBytes(writes[i].Data, reads[i], $"ns {ns.Id} LBA {writes[i].Block} ({writes[i].Data.Length} B)");
        }

        // The whole span in one read: the same bytes through one large C2H transfer (within
        // nvmet's 4 MiB transfer limit, see Transfers_up_to_MAXH2CDATA_...).
        int spanLength = (int)(block - start) * ns.BlockSize;
        if (spanLength > 2 * 1024 * 1024)
        {
            return;
        }

        var span = await queue.ReadAsync(ns, start, spanLength);
        foreach (var (first, data) in writes)
        {
            KernelTargetIo.AssertSameBytes(data, span.AsSpan((int)(first - start) * ns.BlockSize, data.Length).ToArray(), $"ns {ns.Id} LBA {first} in one read");
        }

        _output.WriteLine($"ns {ns.Id}: {writes.Count} writes ({string.Join(", ", writes.Select(w => w.Data.Length))} B) verified");
    }

    /// <summary>Writes 24 blocks, clears the middle 8 with <paramref name="clear"/>, and checks all 24.</summary>
    private async Task ClearsMiddleAsync(HostQueue queue, KernelTargetNamespace ns, ulong start, string operation, Func<ulong, int, Task<CompletionQueueEntry>> clear)
    {
        var data = KernelTargetIo.RandomBytes(24 * ns.BlockSize, (int)start);
        await queue.WriteAsync(ns, start, data);
        KernelTargetIo.AssertSuccess($"{operation} ns {ns.Id}", await clear(start + 8, 8));
        Array.Clear(data, 8 * ns.BlockSize, 8 * ns.BlockSize);
        KernelTargetIo.AssertSameBytes(data, await queue.ReadAsync(ns, start, data.Length), $"ns {ns.Id} after {operation}");
        _output.WriteLine($"ns {ns.Id}: {operation} of 8 blocks verified");
    }
}
