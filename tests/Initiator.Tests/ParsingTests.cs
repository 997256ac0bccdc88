using NovaStor.Initiator.Discovery;
using NovaStor.Initiator.Identify;
using NovaStor.Protocol;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>The host's readers against the project's own writers of the same structures.</summary>
public sealed class ParsingTests
{
    [Fact]
    public void Identify_controller_fields_round_trip()
    {
        var data = new byte[IdentifyCns.IdentifyDataLength];
        new IdentifyControllerData
        {
            Sn = "SN123",
            Mn = "NovaStor",
            Fr = "1.0",
            Mdts = 5,
            Cntlid = 7,
            Oaes = 1u << 8,
            Kas = 10,
            Oncs = 0x10D,
            Vwc = 1,
            Subnqn = "nqn.2026-11.io.novastor:x",
            Ioccsz = (64 + 8192) / 16,
            Iorcsz = 1,
            Rtd3e = 2_000_000,
        }.WriteTo(data);

        var info = ControllerInfo.Parse(data);

        Assert.Equal("SN123", info.SerialNumber);
        Assert.Equal("NovaStor", info.ModelNumber);
        Assert.Equal("1.0", info.FirmwareRevision);
        Assert.Equal(7, info.ControllerId);
        Assert.Equal(128 * 1024L, info.MaxTransferBytes(0));
        Assert.Equal(256 * 1024L, info.MaxTransferBytes(1));
        Assert.True(info.NamespaceAttributeNotices);
        Assert.True(info.SupportsCompare && info.SupportsDatasetManagement && info.SupportsWriteZeroes && info.SupportsCopy);
        Assert.True(info.VolatileWriteCache);
        Assert.Equal("nqn.2026-11.io.novastor:x", info.SubsystemNqn);
        Assert.Equal(8192, info.InCapsuleDataSize);
        Assert.Equal(2_000_000u, info.ShutdownLatencyMicroseconds);
    }

    [Fact]
    public void Mdts_zero_means_no_limit()
    {
        var data = new byte[IdentifyCns.IdentifyDataLength];
        new IdentifyControllerData { Mdts = 0 }.WriteTo(data);
        Assert.Null(ControllerInfo.Parse(data).MaxTransferBytes(0));
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public void Identify_namespace_block_size_comes_from_the_selected_lba_format(int blockSize)
    {
        var ns = new IdentifyNamespaceData { Nsze = 1000, Ncap = 1000, Flbas = 1, Nmic = 1, Dlfeat = 1, Mssrl = 128, Mcl = 1024, Msrc = 0, Nguid = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray() };
        ns.LbaFormats.Add(LbaFormat.ForBlockSize(512));
        ns.LbaFormats.Add(LbaFormat.ForBlockSize(blockSize));
        var data = new byte[IdentifyCns.IdentifyDataLength];
        ns.WriteTo(data);

        var info = NamespaceInfo.Parse(3, data)!;

        Assert.Equal(3u, info.Id);
        Assert.Equal(blockSize, info.BlockSize);
        Assert.Equal(1000UL, info.BlockCount);
        Assert.True(info.Shared);
        Assert.True(info.DeallocatedReadsAsZeros);
        Assert.Equal(128, info.MaxSingleSourceRangeLength);
        Assert.Equal(1024u, info.MaxCopyLength);
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (byte)i).ToArray(), info.Nguid.ToArray());
    }

    [Fact]
    public void An_all_zero_namespace_structure_is_inactive() =>
        Assert.Null(NamespaceInfo.Parse(9, new byte[IdentifyCns.IdentifyDataLength]));

    [Fact]
    public void Discovery_entries_round_trip_including_referrals()
    {
        var entries = new List<DiscoveryLogEntry>
        {
            new() { SubsystemType = DiscoveryLog.SubsystemTypeNvm, PortId = 1, TransportServiceId = "4420", SubsystemNqn = "nqn.2026-11.io.novastor:a", TransportAddress = "10.0.0.1" },
            new() { SubsystemType = DiscoveryLog.SubsystemTypeReferral, AddressFamily = DiscoveryLog.AddressFamilyIPv6, TransportServiceId = "8009", SubsystemNqn = "nqn.2014-08.org.nvmexpress.discovery", TransportAddress = "fd00::2" },
        };
        var page = new byte[DiscoveryLog.GetLength(entries.Count)];
        DiscoveryLog.Write(page, 42, entries);

        var first = DiscoveryRecord.Parse(page.AsSpan(DiscoveryLog.HeaderSize, DiscoveryLog.EntrySize));
        var second = DiscoveryRecord.Parse(page.AsSpan(DiscoveryLog.HeaderSize + DiscoveryLog.EntrySize, DiscoveryLog.EntrySize));

        Assert.True(first.IsNvmSubsystem);
        Assert.Equal("4420", first.ServiceId);
        Assert.Equal("10.0.0.1", first.Address);
        Assert.Equal("nqn.2026-11.io.novastor:a", first.SubsystemNqn);
        Assert.Equal(0xFFFF, first.ControllerId);
        Assert.True(second.IsReferral);
        Assert.Equal("fd00::2", second.Address);
        var log = new DiscoveryLogPage(42, [first, second]);
        Assert.Equal(second, Assert.Single(log.Referrals));
        Assert.Equal(first, Assert.Single(log.Subsystems));
    }

    [Fact]
    public void Results_name_their_status()
    {
        var result = new NvmeResult(StatusCodes.LbaOutOfRange);
        Assert.False(result.IsSuccess);
        Assert.Equal("LBA Out of Range", result.StatusName);
        var error = Assert.Throws<NvmeCommandException>(() => result.ThrowIfFailed("Read"));
        Assert.Contains("Read failed: LBA Out of Range", error.Message, StringComparison.Ordinal);
        Assert.True(NvmeResult.Success.IsSuccess);
    }
}
