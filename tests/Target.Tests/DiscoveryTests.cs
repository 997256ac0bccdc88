using Xunit;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>The discovery controller as `nvme discover` (libnvme) uses it.</summary>
public sealed class DiscoveryTests(SharedTarget shared) : IClassFixture<SharedTarget>, IAsyncLifetime
{
    private HostController _discovery = null!;

    private RunningTarget Target => shared.Target;

    public async Task InitializeAsync() =>
        _discovery = await HostController.ConnectAsync(Target.EndPoint, Nvme.DiscoveryNqn, HostIdentity.Create()).Within();

    public async Task DisposeAsync() => await _discovery.DisposeAsync();

    private static string Text(byte[] page, int offset, int length) => Encoding.ASCII.GetString(page, offset, length).TrimEnd('\0', ' ');

    [Fact]
    public async Task Discovery_controller_identifies_as_such()
    {
        var id = await _discovery.IdentifyAsync(IdentifyCns.Controller).Within();

        Assert.Equal(2, id[111]); // CNTRLTYPE: discovery
        Assert.Equal(_discovery.ControllerId, BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(78)));
        Assert.Equal(Nvme.DiscoveryNqn, Text(id, 768, 256));
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(536)) & 3); // SGLS
        // MAXCMD at least the Linux host's default queue size, or it logs "sqsize 128 > ctrl maxcmd, clamping down".
        Assert.True(BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(514)) >= 128, "MAXCMD below 128");
    }

    [Fact]
    public async Task Discovery_log_header_and_entries_describe_this_listener()
    {
        var header = await _discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024).Within();
        ulong generation = BinaryPrimitives.ReadUInt64LittleEndian(header);
        ulong records = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(16))); // RECFMT
        Assert.InRange(records, 1UL, 16UL);

        var page = await _discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024 * (1 + (int)records)).Within();
        Assert.Equal(header, page.AsSpan(0, 1024).ToArray());

        var entries = Enumerable.Range(0, (int)records).Select(i => page.AsSpan(1024 * (i + 1), 1024).ToArray()).ToArray();
        var nvm = Assert.Single(entries, e => e[2] == 2);      // SUBTYPE: NVM subsystem
        Assert.Equal(RunningTarget.DefaultNqn, Text(nvm, 256, 256));
        Assert.Equal(3, nvm[0]);                               // TRTYPE: TCP
        Assert.Equal(1, nvm[1]);                               // ADRFAM: IPv4
        Assert.Equal("127.0.0.1", Text(nvm, 512, 256));        // TRADDR
        Assert.Equal(Target.Port.ToString(CultureInfo.InvariantCulture), Text(nvm, 32, 32)); // TRSVCID
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16LittleEndian(nvm.AsSpan(6)));         // CNTLID: dynamic
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16LittleEndian(nvm.AsSpan(8)));           // ASQSZ
        Assert.Equal(0, nvm[3] & 3);                                                           // TREQ: secure channel not specified (no TLS), as nvmet
        Assert.Equal(DiscoveryLog.TreqDisableSqFlowControl, nvm[3] & DiscoveryLog.TreqDisableSqFlowControl); // TREQ: SQ flow control disable supported, as nvmet

        // The current discovery subsystem, if listed, points at the same place.
        foreach (var self in entries.Where(e => e[2] == 3))
        {
            Assert.Equal(Nvme.DiscoveryNqn, Text(self, 256, 256));
            Assert.Equal(Target.Port.ToString(CultureInfo.InvariantCulture), Text(self, 32, 32));
        }

        var again = await _discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024).Within();
        Assert.Equal(generation, BinaryPrimitives.ReadUInt64LittleEndian(again));
    }

    [Theory]
    [InlineData("10.0.2.2", 1, "10.0.2.2")]
    [InlineData("fd00::2", 2, "fd00::2")]
    [InlineData("::ffff:10.0.2.2", 1, "10.0.2.2")]
    public async Task Discovery_log_entries_carry_the_advertised_address_and_its_family(string advertised, int family, string traddr)
    {
        // The listener stays on 127.0.0.1: only what hosts are told changes, as with nvmet's addr_traddr.
        await using var target = await RunningTarget.StartAsync($"--NovaStor:AdvertisedAddress={advertised}");
        await using var discovery = await HostController.ConnectAsync(target.EndPoint, Nvme.DiscoveryNqn, HostIdentity.Create()).Within();

        var entries = await EntriesAsync(discovery);
        Assert.Equal(2, entries.Length); // this discovery subsystem and the default NVM subsystem
        foreach (var entry in entries)
        {
            Assert.Equal(family, entry[1]);                    // ADRFAM
            Assert.Equal(traddr, Text(entry, 512, 256));       // TRADDR
            Assert.Equal(target.Port.ToString(CultureInfo.InvariantCulture), Text(entry, 32, 32)); // TRSVCID: the listener's port
        }
    }

    [Theory]
    [InlineData("gateway.example", "NovaStor:AdvertisedAddress 'gateway.example' is not an IP address.")]
    [InlineData("10.0.2.256", "NovaStor:AdvertisedAddress '10.0.2.256' is not an IP address.")]
    [InlineData("0.0.0.0", "NovaStor:AdvertisedAddress '0.0.0.0' is a wildcard")]
    [InlineData("::", "NovaStor:AdvertisedAddress '::' is a wildcard")]
    public async Task An_advertised_address_hosts_cannot_connect_to_stops_start_up_naming_the_setting(string advertised, string expected)
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningTarget.StartAsync($"--NovaStor:AdvertisedAddress={advertised}"));
        Assert.Contains(expected, failure.Message);
    }

    private static async Task<byte[][]> EntriesAsync(HostController discovery)
    {
        var header = await discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024).Within();
        int records = (int)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
        var page = await discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024 * (1 + records)).Within();
        return [.. Enumerable.Range(0, records).Select(i => page.AsSpan(1024 * (i + 1), 1024).ToArray())];
    }

    [Fact]
    public async Task Discovery_log_read_in_pieces_equals_the_whole_and_generation_holds()
    {
        var header = await _discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024).Within();
        int records = (int)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
        int length = 1024 * (1 + records);
        var whole = await _discovery.LogPageAsync(LogPageIdentifiers.Discovery, length).Within();

        // libnvme: header, then entries from LPO 1024 in pieces, then the header again.
        foreach (int piece in new[] { 4096, 1024, 512, 100 * 4 })
        {
            var assembled = new List<byte>(header);
            for (int offset = 1024; offset < length; offset += piece)
            {
                int size = Math.Min(piece, length - offset);
                assembled.AddRange(await _discovery.LogPageAsync(LogPageIdentifiers.Discovery, size, (ulong)offset).Within());
            }

            Assert.Equal(whole, assembled.ToArray());
            var reread = await _discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024).Within();
            Assert.Equal(header.AsSpan(0, 16).ToArray(), reread.AsSpan(0, 16).ToArray()); // GENCTR and NUMREC unchanged
        }

        // A read past the end is zero-filled, a misaligned offset is refused.
        var tail = await _discovery.LogPageAsync(LogPageIdentifiers.Discovery, 2048, (ulong)(length - 1024)).Within();
        Assert.Equal(whole.AsSpan(length - 1024).ToArray(), tail.AsSpan(0, 1024).ToArray());
        Assert.DoesNotContain(tail.AsSpan(1024).ToArray(), b => b != 0);
        Nvme.AssertStatus(await _discovery.AdminAsync(NvmeCommands.GetLogPage(LogPageIdentifiers.Discovery, 1024, 1026), 1024), 0, 0x02);
    }

    [Fact]
    public async Task Discovery_controller_refuses_io_queues_and_io_admin_commands_but_stays_up()
    {
        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var completion = await queue.ConnectAsync(1, 31, Nvme.ConnectBytes(_discovery.Host, _discovery.ControllerId, Nvme.DiscoveryNqn));
        Nvme.AssertStatus(completion, 1, 0x82);

        Assert.False((await _discovery.AdminAsync(NvmeCommands.Identify(IdentifyCns.Namespace, 1), 4096)).Status.IsSuccess);
        Assert.False((await _discovery.AdminAsync(NvmeCommands.GetLogPage(LogPageIdentifiers.Smart, 512), 512)).Status.IsSuccess);
        Nvme.AssertSuccess(await _discovery.AdminAsync(NvmeCommands.KeepAlive()));
        Assert.Null(_discovery.Admin.Failure);
        await _discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024).Within();
    }
}
