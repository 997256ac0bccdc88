using Xunit;
using System.Buffers.Binary;
using System.Text;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>Admin commands of an I/O controller: Identify, Get Log Page, Set/Get Features.</summary>
public sealed class AdminCommandTests(SharedTarget shared) : IClassFixture<SharedTarget>, IAsyncLifetime
{
    private HostController _controller = null!;

    private RunningTarget Target => shared.Target;

    public async Task InitializeAsync() =>
        _controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();

    public async Task DisposeAsync() => await _controller.DisposeAsync();

    [Fact]
    public async Task Identify_controller_fields_are_where_hosts_read_them()
    {
        var id = await _controller.IdentifyAsync(IdentifyCns.Controller).Within();

        Assert.Equal(_controller.ControllerId, BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(78)));    // CNTLID
        string serial = Encoding.ASCII.GetString(id, 4, 20);
        Assert.False(string.IsNullOrWhiteSpace(serial), "SN is blank");
        Assert.All(serial, c => Assert.InRange(c, ' ', '~'));                                               // SN: printable ASCII
        Assert.InRange(id[77], 1, 16);                                                                        // MDTS: a limit, 2^n x 4 KiB
        Assert.Equal(1, id[111]);                                                                             // CNTRLTYPE: I/O controller
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(320)));                          // KAS
        Assert.Equal(0x66, id[512]);                                                                          // SQES
        Assert.Equal(0x44, id[513]);                                                                          // CQES
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(516)));                         // NN
        Assert.True(BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(1792)) >= 4);                           // IOCCSZ
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(1796)));                           // IORCSZ
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(1800)));                            // ICDOFF
        uint sgls = BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(536));
        Assert.NotEqual(0u, sgls & 3);                                                                        // SGLs supported
        Assert.NotEqual(0u, sgls & (1u << 20));                                                               // offset SGLs (in-capsule data)
        Assert.NotEqual(0, id[76] & 0x02);                                                                    // CMIC bit 1: several controllers
        Assert.NotEqual(0, id[76] & 0x08);                                                                    // CMIC bit 3: ANA
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(540)));                         // MNAN (ANA)
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(92)) & (1u << 11));             // OAES: ANA change notices
        ushort oncs = BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(520));
        Assert.Equal(0x18D, oncs & 0x18D);                                                                    // ONCS: Compare, DSM, Write Zeroes, Verify, Copy
        Assert.Equal(0, oncs & 0x02);                                                                         // no Write Uncorrectable (not implemented)
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(534)) & 1);                         // OCFS: Copy format 0
        Assert.Equal(1, id[525] & 1);                                                                         // VWC present
        Assert.Equal(0x06, id[261] & 0x06);                                                                   // LPA: commands supported and effects, extended data
        Assert.Equal(RunningTarget.DefaultNqn, Encoding.UTF8.GetString(id, 768, 256).TrimEnd('\0'));          // SUBNQN
        uint ioccsz = BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(1792));
        Assert.Equal((64u + 8192u) / 16u, ioccsz);                                                            // 8 KiB in-capsule on I/O queues
    }

    [Fact]
    public async Task Identify_namespace_fields_and_identity_match_across_two_controllers()
    {
        await using var other = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var ns = await _controller.IdentifyAsync(IdentifyCns.Namespace, 1).Within();
        var seenByOther = await other.IdentifyAsync(IdentifyCns.Namespace, 1).Within();

        ulong nsze = BinaryPrimitives.ReadUInt64LittleEndian(ns);
        Assert.Equal((1UL << 30) / 512, nsze);                                             // NSZE
        Assert.Equal(nsze, BinaryPrimitives.ReadUInt64LittleEndian(ns.AsSpan(8)));        // NCAP
        Assert.Equal(1, ns[30] & 1);                                                       // NMIC: shared
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(ns.AsSpan(92)));         // ANAGRPID
        var nguid = ns.AsSpan(104, 16).ToArray();
        Assert.Contains(nguid, b => b != 0);                                               // NGUID set
        Assert.Equal(nguid, seenByOther.AsSpan(104, 16).ToArray());                        // same on every controller
        Assert.Equal(9, ns[128 + 2]);                                                      // LBAF0: 512-byte blocks
        Assert.Equal(0, ns[26] & 0xF);                                                     // FLBAS: format 0

        // DLFEAT: if it promises zeroes after deallocate, deallocated blocks must read zeroes.
        byte dlfeat = ns[33];
        if ((dlfeat & 0x7) == 1)
        {
            var queue = await _controller.ConnectIoQueueAsync(1).Within();
            await queue.WriteAsync(400_000, Nvme.RandomBytes(4096, 400));
            Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.WriteZeroes(1, 400_000, 8, deallocate: true)));
            Assert.Equal(new byte[4096], await queue.ReadAsync(400_000, 4096));
        }
        else
        {
            Assert.Equal(0, dlfeat & 0x8); // never "Write Zeroes may deallocate" without zeroes
        }

        // An NSID that is valid but not active: zeroes; one beyond NN: Invalid Namespace.
        var inactive = await _controller.IdentifyAsync(IdentifyCns.Namespace, 2).Within();
        Assert.DoesNotContain(inactive, b => b != 0);
        Nvme.AssertStatus(await _controller.AdminAsync(NvmeCommands.Identify(IdentifyCns.NamespaceDescriptorList, 2), 4096), 0, 0x0B);
        Nvme.AssertStatus(await _controller.AdminAsync(NvmeCommands.Identify(IdentifyCns.Namespace, 0), 4096), 0, 0x0B);
    }

    [Fact]
    public async Task Active_namespace_list_lists_namespace_one()
    {
        var list = await _controller.IdentifyAsync(IdentifyCns.ActiveNamespaceList, 0).Within();
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(list));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(list.AsSpan(4)));

        var after = await _controller.IdentifyAsync(IdentifyCns.ActiveNamespaceList, 1).Within();
        Assert.DoesNotContain(after, b => b != 0);
    }

    [Fact]
    public async Task Namespace_descriptor_list_carries_nguid_uuid_and_csi()
    {
        var ns = await _controller.IdentifyAsync(IdentifyCns.Namespace, 1).Within();
        var list = await _controller.IdentifyAsync(IdentifyCns.NamespaceDescriptorList, 1).Within();

        var descriptors = new Dictionary<byte, byte[]>();
        int at = 0;
        while (at + 4 <= list.Length && list[at + 1] != 0)
        {
            byte type = list[at], length = list[at + 1];
            Assert.True(descriptors.TryAdd(type, list.AsSpan(at + 4, length).ToArray()), $"descriptor type {type} twice");
            at += 4 + length;
        }

        Assert.Equal(16, descriptors[2].Length);
        Assert.Equal(ns.AsSpan(104, 16).ToArray(), descriptors[2]);      // NGUID equals Identify Namespace's
        Assert.Equal(16, descriptors[3].Length);
        Assert.Contains(descriptors[3], b => b != 0);                    // UUID
        Assert.NotEqual(0, descriptors[3][6] >> 4);                      // a UUID version is set
        Assert.Equal(0x80, descriptors[3][8] & 0xC0);                    // RFC 9562 variant
        Assert.Equal([0], descriptors[4]);                               // CSI: NVM
    }

    [Fact]
    public async Task Command_set_identify_structures_answer()
    {
        var independent = await _controller.IdentifyAsync(IdentifyCns.CommandSetIndependentNamespace, 1).Within();
        Assert.Equal(1, independent[14] & 1);                                           // NSTAT: ready
        Assert.Equal(1, independent[1] & 1);                                            // NMIC: shared
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(independent.AsSpan(4))); // ANAGRPID

        Nvme.AssertSuccess(await _controller.AdminAsync(NvmeCommands.Identify(IdentifyCns.CommandSetController, 0, CommandSetIdentifiers.Nvm), 4096));
        Nvme.AssertSuccess(await _controller.AdminAsync(NvmeCommands.Identify(IdentifyCns.CommandSetNamespace, 1, CommandSetIdentifiers.Nvm), 4096));
        Assert.False((await _controller.AdminAsync(NvmeCommands.Identify(IdentifyCns.CommandSetController, 0, CommandSetIdentifiers.ZonedNamespace), 4096)).Status.IsSuccess);
        Nvme.AssertStatus(await _controller.AdminAsync(NvmeCommands.Identify(0x7E), 4096), 0, 0x02); // unknown CNS
    }

    [Fact]
    public async Task Supported_log_pages_lists_exactly_the_pages_that_answer_and_each_of_them_reads()
    {
        var supported = await _controller.LogPageAsync(LogPageIdentifiers.SupportedLogPages, 1024).Within();
        var listed = Enumerable.Range(0, 256).Where(id => (BinaryPrimitives.ReadUInt32LittleEndian(supported.AsSpan(4 * id)) & 1) != 0).ToArray();
        Assert.Equal(new[] { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0C, 0x80 }, listed);

        // The page and Get Log Page agree on every LID: listed ones read, the rest are Invalid Log Page.
        for (int id = 0; id < 256; id++)
        {
            var completion = await _controller.AdminAsync(NvmeCommands.GetLogPage((byte)id, 512), 512);
            if (listed.Contains(id))
            {
                Nvme.AssertSuccess(completion);
            }
            else
            {
                Nvme.AssertStatus(completion, 1, 0x09);
            }
        }
    }

    [Fact]
    public async Task Firmware_slot_log_shows_one_read_only_slot_running_the_identify_revision()
    {
        var id = await _controller.IdentifyAsync(IdentifyCns.Controller).Within();
        Assert.Equal(0x03, id[260]);             // FRMW: slot 1 read-only, one slot
        Assert.NotEqual(0, id[261] & 0x02);      // LPA bit 1: commands supported and effects

        var log = await _controller.LogPageAsync(LogPageIdentifiers.FirmwareSlot, 512).Within();
        Assert.Equal(1, log[0]);                 // AFI: slot 1 active, nothing pending
        Assert.Equal(id.AsSpan(64, 8).ToArray(), log.AsSpan(8, 8).ToArray()); // FRS1 = FR
        Assert.All(log.AsSpan(16).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Command_effects_log_marks_what_is_implemented_and_which_commands_change_blocks()
    {
        var log = await _controller.LogPageAsync(LogPageIdentifiers.CommandEffects, 4096).Within();
        uint Admin(byte opcode) => BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(4 * opcode));
        uint Io(byte opcode) => BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(1024 + (4 * opcode)));

        Assert.Equal(1u, Admin(AdminOpcode.Identify));
        Assert.Equal(1u, Admin(AdminOpcode.KeepAlive));
        Assert.Equal(0u, Admin(0x80));           // Format NVM: not implemented
        Assert.Equal(1u, Io(IoOpcode.Read));
        Assert.Equal(1u, Io(IoOpcode.Verify));
        Assert.Equal(3u, Io(IoOpcode.Write));    // CSUPP | LBCC
        Assert.Equal(3u, Io(IoOpcode.WriteZeroes));
        Assert.Equal(3u, Io(IoOpcode.DatasetManagement));
        Assert.Equal(1u, Io(IoOpcode.ReservationRegister));
        Assert.Equal(1u, Io(IoOpcode.ReservationRelease));
        Assert.Equal(0u, Io(0x0F));              // reserved opcode
        Assert.Equal(0u, Io(0x04));              // Write Uncorrectable: not implemented

        // The log and the command sets agree: every opcode it leaves out is Invalid Opcode on its
        // queue (Fabrics, 7Fh, is outside the log by definition).
        var queue = await _controller.ConnectIoQueueAsync(1).Within();
        for (int opcode = 0; opcode < 256; opcode++)
        {
            if (opcode == AdminOpcode.Fabrics)
            {
                continue;
            }

            if (Admin((byte)opcode) == 0)
            {
                Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(new SubmissionQueueEntry { Opcode = (byte)opcode }), 0, 0x01);
            }

            if (Io((byte)opcode) == 0)
            {
                Nvme.AssertStatus(await queue.ExecuteAsync(new SubmissionQueueEntry { Opcode = (byte)opcode, NamespaceId = 1 }), 0, 0x01);
            }
        }
    }

    [Fact]
    public async Task Controller_lists_name_every_controller_of_the_subsystem_from_cntid_up()
    {
        await using var other = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        ushort low = Math.Min(_controller.ControllerId, other.ControllerId), high = Math.Max(_controller.ControllerId, other.ControllerId);

        async Task<ushort[]> ListAsync(byte cns, uint nsid, ushort from)
        {
            var command = NvmeCommands.Identify(cns, nsid);
            command.Cdw10 |= (uint)from << 16; // CNTID
            var data = new byte[4096];
            Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(command, dataIn: data));
            int count = BinaryPrimitives.ReadUInt16LittleEndian(data);
            Assert.All(data.AsSpan(2 + (2 * count)).ToArray(), b => Assert.Equal(0, b));
            return Enumerable.Range(0, count).Select(i => BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(2 + (2 * i)))).ToArray();
        }

        // CNS 13h: the subsystem's controllers, ascending; from CNTID up.
        var all = await ListAsync(IdentifyCns.SubsystemControllerList, 0, 0);
        Assert.Contains(low, all);
        Assert.Contains(high, all);
        Assert.Equal(all.Order().ToArray(), all);
        Assert.All(await ListAsync(IdentifyCns.SubsystemControllerList, 0, high), id => Assert.True(id >= high));
        Assert.Contains(high, await ListAsync(IdentifyCns.SubsystemControllerList, 0, high));
        Assert.DoesNotContain(low, await ListAsync(IdentifyCns.SubsystemControllerList, 0, high));

        // CNS 12h: controllers attached to namespace 1 (all of them); an inactive NSID has none; NSID 0 is invalid.
        Assert.Contains(low, await ListAsync(IdentifyCns.NamespaceControllerList, 1, 0));
        Assert.Empty(await ListAsync(IdentifyCns.NamespaceControllerList, 77, 0));
        var invalid = await _controller.Admin.ExecuteAsync(NvmeCommands.Identify(IdentifyCns.NamespaceControllerList, 0), dataIn: new byte[4096]);
        Nvme.AssertStatus(invalid, 0, 0x0B);
    }

    [Fact]
    public async Task Smart_log_counts_host_commands()
    {
        var queue = await _controller.ConnectIoQueueAsync(1).Within();
        for (int i = 0; i < 5; i++)
        {
            await queue.WriteAsync(410_000 + (ulong)i * 8, Nvme.RandomBytes(4096, i));
        }

        await queue.ReadAsync(410_000, 4096);
        var smart = await _controller.LogPageAsync(LogPageIdentifiers.Smart, 512).Within();

        Assert.Equal(0, smart[0]);                                                        // no critical warning
        Assert.InRange(BinaryPrimitives.ReadUInt16LittleEndian(smart.AsSpan(1)), 250, 400); // temperature in Kelvin
        Assert.Equal(100, smart[3]);                                                      // available spare
        Assert.True(BinaryPrimitives.ReadUInt64LittleEndian(smart.AsSpan(48)) >= 1);      // data units written
        Assert.True(BinaryPrimitives.ReadUInt64LittleEndian(smart.AsSpan(64)) >= 1);      // host read commands
        Assert.True(BinaryPrimitives.ReadUInt64LittleEndian(smart.AsSpan(80)) >= 5);      // host write commands
    }

    [Fact]
    public async Task Smart_counters_do_not_go_backwards_when_io_queues_close_or_the_controller_resets()
    {
        static (ulong Reads, ulong Writes, ulong UnitsWritten) Counters(byte[] smart) => (
            BinaryPrimitives.ReadUInt64LittleEndian(smart.AsSpan(64)),
            BinaryPrimitives.ReadUInt64LittleEndian(smart.AsSpan(80)),
            BinaryPrimitives.ReadUInt64LittleEndian(smart.AsSpan(48)));

        var first = await _controller.ConnectIoQueueAsync(1).Within();
        for (int i = 0; i < 3; i++)
        {
            await first.WriteAsync(415_000 + (ulong)i * 8, Nvme.RandomBytes(4096, i));
        }

        await first.ReadAsync(415_000, 4096);
        var before = Counters(await _controller.LogPageAsync(LogPageIdentifiers.Smart, 512).Within());
        Assert.True(before.Writes >= 3 && before.Reads >= 1, $"SMART counted {before}");

        // The host closes the queue: what it did still counts. (QID 1 connects again once the target
        // has let the old queue go.)
        await first.DisposeAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            try
            {
                await _controller.ConnectIoQueueAsync(1).Within();
                break;
            }
            catch (NvmeCommandException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);
            }
        }

        var afterClose = Counters(await _controller.LogPageAsync(LogPageIdentifiers.Smart, 512).Within());
        Assert.True(afterClose.Writes >= before.Writes && afterClose.Reads >= before.Reads && afterClose.UnitsWritten >= before.UnitsWritten, $"SMART went from {before} to {afterClose}");

        // A reset closes the I/O queues too.
        var second = await _controller.ConnectIoQueueAsync(2).Within();
        await second.WriteAsync(415_100, Nvme.RandomBytes(4096, 9));
        await second.WriteAsync(415_108, Nvme.RandomBytes(4096, 10));
        const uint enabled = 1 | (6u << 4) | (6u << 16) | (4u << 20);
        Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(NvmeCommands.PropertySet(ControllerProperties.Configuration, enabled & ~1u)));
        await _controller.EnableAsync().Within();
        var afterReset = Counters(await _controller.LogPageAsync(LogPageIdentifiers.Smart, 512).Within());
        Assert.True(afterReset.Writes >= afterClose.Writes + 2 && afterReset.Reads >= afterClose.Reads, $"SMART went from {afterClose} to {afterReset}");
        await Nvme.ClosedWithAsync(second, TimeSpan.FromSeconds(5));
        var later = Counters(await _controller.LogPageAsync(LogPageIdentifiers.Smart, 512).Within());
        Assert.Equal(afterReset, later);
    }

    [Fact]
    public async Task Ana_log_has_one_optimized_group_holding_namespace_one()
    {
        var ana = await _controller.LogPageAsync(LogPageIdentifiers.Ana, 4096).Within();

        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(ana.AsSpan(8)));  // NGRPS
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(ana.AsSpan(16))); // ANAGRPID
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(ana.AsSpan(20))); // NNSIDS
        Assert.Equal(1, ana[32] & 0xF);                                           // optimized
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(ana.AsSpan(48))); // NSID 1

        // RGO (LSP bit 0): the groups without their NSID lists.
        var groupsOnly = await _controller.LogPageAsync(LogPageIdentifiers.Ana, 48, specific: 1).Within();
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(groupsOnly.AsSpan(8)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(groupsOnly.AsSpan(20)));
        Assert.Equal(1, groupsOnly[32] & 0xF);
    }

    [Fact]
    public async Task Error_log_records_each_failed_command_newest_first_and_smart_counts_them()
    {
        var identify = await _controller.IdentifyAsync(IdentifyCns.Controller).Within();
        Assert.Equal(63, identify[262]); // ELPE: 64 entries
        var empty = await _controller.LogPageAsync(LogPageIdentifiers.ErrorInformation, 64 * 64).Within();
        Assert.DoesNotContain(empty, b => b != 0);

        // An I/O read past the end (LBA Out of Range), then an unknown admin opcode.
        var queue = await _controller.ConnectIoQueueAsync(1).Within();
        var read = NvmeCommands.Read(1, 2_097_152, 1);
        var failed = await queue.ExecuteAsync(read, dataIn: new byte[512]);
        Nvme.AssertStatus(failed, 0, 0x80);
        var unknown = await _controller.AdminAsync(new SubmissionQueueEntry { Opcode = 0xC5 });
        Nvme.AssertStatus(unknown, 0, 0x01);

        var log = await _controller.LogPageAsync(LogPageIdentifiers.ErrorInformation, 64 * 64).Within();
        var newest = log.AsSpan(0, 64);
        Assert.Equal(2ul, BinaryPrimitives.ReadUInt64LittleEndian(newest));              // error count
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(newest[8..]));             // SQID: admin
        Assert.Equal(unknown.CommandId, BinaryPrimitives.ReadUInt16LittleEndian(newest[10..]));
        Assert.Equal((ushort)(unknown.Status.Value << 1), BinaryPrimitives.ReadUInt16LittleEndian(newest[12..]));
        var older = log.AsSpan(64, 64);
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(older));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(older[8..]));              // SQID 1
        Assert.Equal(failed.CommandId, BinaryPrimitives.ReadUInt16LittleEndian(older[10..]));
        Assert.Equal(0x80, (BinaryPrimitives.ReadUInt16LittleEndian(older[12..]) >> 1) & 0xFF);
        Assert.Equal(2_097_152ul, BinaryPrimitives.ReadUInt64LittleEndian(older[16..]));  // LBA
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(older[24..]));           // NSID
        Assert.Equal(0, older[29]);                                                       // TRTYPE: not a transport error
        Assert.DoesNotContain(log.AsSpan(128).ToArray(), b => b != 0);

        var smart = await _controller.LogPageAsync(LogPageIdentifiers.Smart, 512).Within();
        Assert.Equal(2ul, BinaryPrimitives.ReadUInt64LittleEndian(smart.AsSpan(176))); // Number of Error Information Log Entries
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(smart.AsSpan(160))); // Media and Data Integrity Errors
    }

    [Fact]
    public async Task Error_log_keeps_the_newest_64_and_the_count_keeps_growing()
    {
        for (int i = 0; i < 70; i++)
        {
            Nvme.AssertStatus(await _controller.AdminAsync(new SubmissionQueueEntry { Opcode = 0xC5 }), 0, 0x01);
        }

        var log = await _controller.LogPageAsync(LogPageIdentifiers.ErrorInformation, 64 * 64).Within();
        Assert.Equal(70ul, BinaryPrimitives.ReadUInt64LittleEndian(log));
        Assert.Equal(7ul, BinaryPrimitives.ReadUInt64LittleEndian(log.AsSpan(63 * 64)));
    }

    [Fact]
    public async Task Changed_namespace_log_is_readable()
    {
        var changed = await _controller.LogPageAsync(LogPageIdentifiers.ChangedNamespaces, 4096).Within();
        Assert.DoesNotContain(changed, b => b != 0); // nothing changed
    }

    [Fact]
    public async Task Log_pages_read_in_pieces_at_dword_offsets_equal_the_whole()
    {
        var whole = await _controller.LogPageAsync(LogPageIdentifiers.Smart, 512).Within();
        var first = await _controller.LogPageAsync(LogPageIdentifiers.Smart, 100, offset: 0).Within();
        var second = await _controller.LogPageAsync(LogPageIdentifiers.Smart, 412, offset: 100).Within();
        // The temperature and counters do not move between reads here: no I/O on this controller.
        Assert.Equal(whole, first.Concat(second).ToArray());

        var ana = await _controller.LogPageAsync(LogPageIdentifiers.Ana, 52).Within();
        var anaTail = await _controller.LogPageAsync(LogPageIdentifiers.Ana, 4, offset: 48).Within();
        Assert.Equal(ana.AsSpan(48, 4).ToArray(), anaTail);
    }

    [Theory]
    [InlineData(2UL)]
    [InlineData(1UL)]
    [InlineData(514UL)]
    [InlineData(4096UL)]    // beyond the 512-byte page
    public async Task Get_log_page_at_a_misaligned_or_out_of_range_offset_is_invalid_field(ulong offset)
    {
        var completion = await _controller.AdminAsync(NvmeCommands.GetLogPage(LogPageIdentifiers.Smart, 64, offset), 64);
        Nvme.AssertStatus(completion, 0, 0x02);
        await _controller.LogPageAsync(LogPageIdentifiers.Smart, 512).Within();
    }

    [Theory]
    [InlineData(0x06)]  // device self-test: not implemented
    [InlineData(0x70)]  // discovery log on an I/O controller
    [InlineData(0xC0)]  // vendor specific
    [InlineData(0x7F)]
    public async Task Unknown_log_page_is_an_error_and_the_connection_stays_up(byte logId)
    {
        var completion = await _controller.AdminAsync(NvmeCommands.GetLogPage(logId, 512), 512);

        Assert.False(completion.Status.IsSuccess, $"log page {logId:X2}h reported success");
        Assert.True(completion.Status.DoNotRetry);
        Assert.Null(_controller.Admin.Failure);
        await _controller.IdentifyAsync(IdentifyCns.Controller).Within();
    }

    [Fact]
    public async Task Set_and_get_features_number_of_queues_keep_alive_and_write_cache()
    {
        var set = await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.NumberOfQueues, 3 | (3u << 16)));
        Nvme.AssertSuccess(set);
        Assert.Equal(3u | (3u << 16), set.Dw0);
        var get = await _controller.Admin.ExecuteAsync(NvmeCommands.GetFeatures(FeatureId.NumberOfQueues));
        Nvme.AssertSuccess(get);
        Assert.Equal(3u | (3u << 16), get.Dw0);
        // 65535 queues (0-based FFFFh) is invalid.
        Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.NumberOfQueues, 0xFFFF)), 0, 0x02);

        Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.KeepAliveTimer, 60_000)));
        get = await _controller.Admin.ExecuteAsync(NvmeCommands.GetFeatures(FeatureId.KeepAliveTimer));
        Nvme.AssertSuccess(get);
        Assert.Equal(60_000u, get.Dw0);
        Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.KeepAliveTimer, 0)));

        var queue = await _controller.ConnectIoQueueAsync(1).Within();
        foreach (uint enabled in new[] { 0u, 1u })
        {
            Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.VolatileWriteCache, enabled)));
            get = await _controller.Admin.ExecuteAsync(NvmeCommands.GetFeatures(FeatureId.VolatileWriteCache));
            Nvme.AssertSuccess(get);
            Assert.Equal(enabled, get.Dw0 & 1);
            var data = Nvme.RandomBytes(8192, (int)enabled);
            await queue.WriteAsync(420_000, data);
            Assert.Equal(data, await queue.ReadAsync(420_000, data.Length));
        }

        // Error Recovery (05h), which spdk_nvme_identify and nvme get-feature -f 5 read: TLER 0,
        // no DULBE; fixed at that default.
        get = await _controller.Admin.ExecuteAsync(NvmeCommands.GetFeatures(FeatureId.ErrorRecovery));
        Nvme.AssertSuccess(get);
        Assert.Equal(0u, get.Dw0);
        Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.ErrorRecovery, 1u << 16)), 1, 0x0E);

        // Saving is not supported; an unknown feature is an error.
        var save = NvmeCommands.SetFeatures(FeatureId.VolatileWriteCache, 1);
        save.Cdw10 |= 1u << 31;
        Assert.False((await _controller.Admin.ExecuteAsync(save)).Status.IsSuccess);
        Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(NvmeCommands.GetFeatures(0x7E)), 0, 0x02);
    }

    [Fact]
    public async Task Get_features_honours_select_and_answers_every_mandatory_feature()
    {
        static SubmissionQueueEntry Get(byte feature, uint select, uint cdw11 = 0, uint namespaceId = 0)
        {
            var command = NvmeCommands.GetFeatures(feature);
            command.Cdw10 |= select << 8;
            command.Cdw11 = cdw11;
            command.NamespaceId = namespaceId;
            return command;
        }

        // Current follows Set; default (SEL 1) and saved (SEL 2, nothing is saveable) stay at the default.
        Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.VolatileWriteCache, 0)));
        Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.AsyncEventConfiguration, 1u << 8)));
        Assert.Equal(0u, (await _controller.Admin.ExecuteAsync(Get(FeatureId.VolatileWriteCache, 0))).Dw0);
        Assert.Equal(1u, (await _controller.Admin.ExecuteAsync(Get(FeatureId.VolatileWriteCache, 1))).Dw0);
        Assert.Equal(1u, (await _controller.Admin.ExecuteAsync(Get(FeatureId.VolatileWriteCache, 2))).Dw0);
        Assert.Equal(1u << 8, (await _controller.Admin.ExecuteAsync(Get(FeatureId.AsyncEventConfiguration, 0))).Dw0);
        Assert.Equal(0u, (await _controller.Admin.ExecuteAsync(Get(FeatureId.AsyncEventConfiguration, 1))).Dw0);
        uint connectKato = (await _controller.Admin.ExecuteAsync(Get(FeatureId.KeepAliveTimer, 1))).Dw0;
        Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.KeepAliveTimer, connectKato + 5_000)));
        Assert.Equal(connectKato + 5_000, (await _controller.Admin.ExecuteAsync(Get(FeatureId.KeepAliveTimer, 0))).Dw0);
        Assert.Equal(connectKato, (await _controller.Admin.ExecuteAsync(Get(FeatureId.KeepAliveTimer, 1))).Dw0);
        Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(Get(FeatureId.KeepAliveTimer, 4)), 0, 0x02);

        // Capabilities (SEL 3): bit 2 changeable, bit 1 namespace specific, never saveable.
        Assert.Equal(1u << 2, (await _controller.Admin.ExecuteAsync(Get(FeatureId.NumberOfQueues, 3))).Dw0);
        Assert.Equal(0u, (await _controller.Admin.ExecuteAsync(Get(FeatureId.Arbitration, 3))).Dw0);
        Assert.Equal(6u, (await _controller.Admin.ExecuteAsync(Get(FeatureId.ReservationNotificationMask, 3, namespaceId: 1))).Dw0);
        Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(Get(0x7E, 3)), 0, 0x02);

        // Every mandatory feature answers; the fixed ones refuse a change.
        foreach (byte feature in new[] { FeatureId.Arbitration, FeatureId.PowerManagement, FeatureId.TemperatureThreshold, FeatureId.ErrorRecovery, FeatureId.InterruptCoalescing, FeatureId.InterruptVectorConfiguration, FeatureId.WriteAtomicityNormal })
        {
            Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(Get(feature, 0)));
            Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(feature, 1)), 1, 0x0E);
        }

        // Temperature threshold: the composite over-temperature threshold (85 C) lies above the
        // 30 C the SMART log reports; no under threshold; THSEL 2 is reserved.
        Assert.Equal(358u, (await _controller.Admin.ExecuteAsync(Get(FeatureId.TemperatureThreshold, 0))).Dw0);
        Assert.Equal((1u << 20) | 0u, (await _controller.Admin.ExecuteAsync(Get(FeatureId.TemperatureThreshold, 0, cdw11: 1u << 20))).Dw0);
        var smart = await _controller.LogPageAsync(LogPageIdentifiers.Smart, 512).Within();
        Assert.True(BinaryPrimitives.ReadUInt16LittleEndian(smart.AsSpan(1)) < 358);
        Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(Get(FeatureId.TemperatureThreshold, 0, cdw11: 2u << 20)), 0, 0x02);

        // Host Identifier (81h): the 128-bit ID from Connect with EXHID; the 64-bit form does not exist on fabrics; it cannot be set.
        var hostId = new byte[16];
        Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(Get(FeatureId.HostIdentifier, 0, cdw11: 1), dataIn: hostId));
        Assert.Equal(_controller.Host.HostId, new Guid(hostId, bigEndian: true));
        Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(Get(FeatureId.HostIdentifier, 0), dataIn: new byte[8]), 0, 0x02);
        Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.HostIdentifier, 1), dataOut: hostId), 0, 0x0C);

        // Reservation features are per namespace: an inactive NSID is refused.
        Nvme.AssertSuccess(await _controller.Admin.ExecuteAsync(Get(FeatureId.ReservationPersistence, 0, namespaceId: 1)));
        Nvme.AssertStatus(await _controller.Admin.ExecuteAsync(Get(FeatureId.ReservationPersistence, 0, namespaceId: 9)), 0, 0x0B);
    }
}
