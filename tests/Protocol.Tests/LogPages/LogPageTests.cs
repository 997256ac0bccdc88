using System.Buffers.Binary;
using System.Text;
using Xunit;

namespace NovaStor.Protocol.Tests.LogPages;

public sealed class LogPageTests
{
    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    private static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    private static UInt128 U128(byte[] b, int at) => BinaryPrimitives.ReadUInt128LittleEndian(b.AsSpan(at));

    private static byte[] Filled(int length)
    {
        byte[] b = new byte[length];
        b.AsSpan().Fill(0xCC);
        return b;
    }

    [Fact]
    public void Identifiers()
    {
        Assert.Equal(0x01, LogPageIdentifiers.ErrorInformation);
        Assert.Equal(0x02, LogPageIdentifiers.Smart);
        Assert.Equal(0x04, LogPageIdentifiers.ChangedNamespaces);
        Assert.Equal(0x0C, LogPageIdentifiers.Ana);
        Assert.Equal(0x70, LogPageIdentifiers.Discovery);
    }

    [Fact]
    public void ErrorLogIsZeroWithoutErrors()
    {
        Assert.Equal(64, ErrorLog.EntrySize);
        Assert.Equal(64 * 64, ErrorLog.PageLength(63));
        byte[] b = Filled(ErrorLog.PageLength(3));
        Assert.Equal(0, ErrorLog.Write(b, []));
        Assert.All(b, x => Assert.Equal(0, x));
    }

    [Fact]
    public void ErrorLogEntryAtSpecOffsets()
    {
        byte[] b = Filled(ErrorLog.PageLength(1));
        ErrorLogEntry entry = new(7, 1, 0x1234, 0x4005, 0x0102, 0x1122334455667788, 9, 1, 3, 0xAABB, 0xCCDD, 1);
        Assert.Equal(64, ErrorLog.Write(b, [entry]));
        Assert.Equal(7ul, U64(b, 0));
        Assert.Equal(1, U16(b, 8));
        Assert.Equal(0x1234, U16(b, 10));
        Assert.Equal(0x4005, U16(b, 12));
        Assert.Equal(0x0102, U16(b, 14));
        Assert.Equal(0x1122334455667788ul, U64(b, 16));
        Assert.Equal(9u, U32(b, 24));
        Assert.Equal(1, b[28]);
        Assert.Equal(3, b[29]);
        Assert.Equal(0xAABBul, U64(b, 32));
        Assert.Equal(0xCCDD, U16(b, 40));
        Assert.Equal(1, b[63]);
        Assert.All(b[64..], x => Assert.Equal(0, x));
    }

    [Fact]
    public void SmartLogAtSpecOffsets()
    {
        SmartHealthLog log = new()
        {
            CriticalWarning = 0x04,
            CompositeTemperature = 0x0143,
            AvailableSpare = 100,
            AvailableSpareThreshold = 10,
            PercentageUsed = 3,
            EnduranceGroupCriticalWarningSummary = 1,
            DataUnitsRead = new UInt128(1, 2),
            DataUnitsWritten = 3,
            HostReadCommands = 4,
            HostWriteCommands = 5,
            ControllerBusyTime = 6,
            PowerCycles = 7,
            PowerOnHours = 8,
            UnsafeShutdowns = 9,
            MediaErrors = 10,
            NumErrorLogEntries = 11,
            WarningCompositeTemperatureTime = 12,
            CriticalCompositeTemperatureTime = 13,
        };
        byte[] b = Filled(600);
        log.WriteTo(b);
        Assert.Equal(512, SmartHealthLog.Length);
        Assert.Equal(0x04, b[0]);
        Assert.Equal(0x43, b[1]);
        Assert.Equal(0x01, b[2]);
        Assert.Equal(100, b[3]);
        Assert.Equal(10, b[4]);
        Assert.Equal(3, b[5]);
        Assert.Equal(1, b[6]);
        Assert.All(b[7..32], x => Assert.Equal(0, x));
        Assert.Equal(2ul, U64(b, 32));
        Assert.Equal(1ul, U64(b, 40));
        Assert.Equal(new UInt128(1, 2), U128(b, 32));
        Assert.Equal((UInt128)3, U128(b, 48));
        Assert.Equal((UInt128)4, U128(b, 64));
        Assert.Equal((UInt128)5, U128(b, 80));
        Assert.Equal((UInt128)6, U128(b, 96));
        Assert.Equal((UInt128)7, U128(b, 112));
        Assert.Equal((UInt128)8, U128(b, 128));
        Assert.Equal((UInt128)9, U128(b, 144));
        Assert.Equal((UInt128)10, U128(b, 160));
        Assert.Equal((UInt128)11, U128(b, 176));
        Assert.Equal(12u, U32(b, 192));
        Assert.Equal(13u, U32(b, 196));
        Assert.All(b[200..512], x => Assert.Equal(0, x));
        Assert.All(b[512..], x => Assert.Equal(0xCC, x));
    }

    [Fact]
    public void DataUnitsRoundUp()
    {
        Assert.Equal((UInt128)0, SmartHealthLog.ToDataUnits(0));
        Assert.Equal((UInt128)1, SmartHealthLog.ToDataUnits(1));
        Assert.Equal((UInt128)1, SmartHealthLog.ToDataUnits(512_000));
        Assert.Equal((UInt128)2, SmartHealthLog.ToDataUnits(512_001));
    }

    [Fact]
    public void ChangedNamespaceList()
    {
        byte[] b = Filled(4096);
        Assert.Equal(3, NovaStor.Protocol.ChangedNamespaceList.Write(b, [2, 3, 7]));
        Assert.Equal(2u, U32(b, 0));
        Assert.Equal(3u, U32(b, 4));
        Assert.Equal(7u, U32(b, 8));
        Assert.All(b[12..], x => Assert.Equal(0, x));

        uint[] many = Enumerable.Range(1, 1025).Select(i => (uint)i).ToArray();
        Assert.Equal(1, NovaStor.Protocol.ChangedNamespaceList.Write(b, many));
        Assert.Equal(0xFFFFFFFFu, U32(b, 0));
        Assert.All(b[4..], x => Assert.Equal(0, x));

        Assert.Equal(1024, NovaStor.Protocol.ChangedNamespaceList.Write(b, many.AsSpan(0, 1024)));
        Assert.Equal(1024u, U32(b, 4092));

        Assert.Equal(1, NovaStor.Protocol.ChangedNamespaceList.Write(b, [1], overflowed: true));
        Assert.Equal(0xFFFFFFFFu, U32(b, 0));
        Assert.Equal(0u, U32(b, 4));

        Assert.Equal(0, NovaStor.Protocol.ChangedNamespaceList.Write(b, []));
        Assert.All(b, x => Assert.Equal(0, x));
    }

    private static AnaGroupDescriptor[] Groups() =>
    [
        new(1, AnaState.Optimized, 5, new uint[] { 1, 2, 3 }),
        new(2, AnaState.Inaccessible, 6, new uint[] { 10 }),
        new(3, AnaState.Change, 7, ReadOnlyMemory<uint>.Empty),
    ];

    [Fact]
    public void AnaLogWithNsids()
    {
        AnaGroupDescriptor[] groups = Groups();
        int length = AnaLog.GetLength(groups, groupsOnly: false);
        Assert.Equal(16 + (3 * 32) + (4 * 4), length);
        byte[] b = Filled(length + 8);
        Assert.Equal(length, AnaLog.Write(b, 0x99, groups, groupsOnly: false));

        Assert.Equal(0x99ul, U64(b, 0));
        Assert.Equal(3, U16(b, 8));
        Assert.All(b[10..16], x => Assert.Equal(0, x));

        // Group 1 at 16: 3 NSIDs.
        Assert.Equal(1u, U32(b, 16));
        Assert.Equal(3u, U32(b, 20));
        Assert.Equal(5ul, U64(b, 24));
        Assert.Equal(1, b[32]);
        Assert.All(b[33..48], x => Assert.Equal(0, x));
        Assert.Equal(1u, U32(b, 48));
        Assert.Equal(2u, U32(b, 52));
        Assert.Equal(3u, U32(b, 56));

        // Group 2 at 60.
        Assert.Equal(2u, U32(b, 60));
        Assert.Equal(1u, U32(b, 64));
        Assert.Equal(6ul, U64(b, 68));
        Assert.Equal(3, b[76]);
        Assert.Equal(10u, U32(b, 92));

        // Group 3 at 96, no NSIDs.
        Assert.Equal(3u, U32(b, 96));
        Assert.Equal(0u, U32(b, 100));
        Assert.Equal(7ul, U64(b, 104));
        Assert.Equal(0x0F, b[112]);
        Assert.Equal(128, length);
        Assert.All(b[length..], x => Assert.Equal(0xCC, x));
    }

    [Fact]
    public void AnaLogReturnGroupsOnly()
    {
        AnaGroupDescriptor[] groups = Groups();
        int length = AnaLog.GetLength(groups, groupsOnly: true);
        Assert.Equal(16 + (3 * 32), length);
        byte[] b = Filled(length);
        Assert.Equal(length, AnaLog.Write(b, 1, groups, groupsOnly: true));
        Assert.Equal(3, U16(b, 8));
        for (int g = 0; g < 3; g++)
        {
            int at = 16 + (32 * g);
            Assert.Equal((uint)(g + 1), U32(b, at));
            Assert.Equal(0u, U32(b, at + 4));
            Assert.Equal((ulong)(5 + g), U64(b, at + 8));
        }

        Assert.Equal(1, b[32]);
        Assert.Equal(3, b[64]);
        Assert.Equal(0x0F, b[96]);
        Assert.Equal(0x01, AnaLog.LspReturnGroupsOnly);
    }

    [Fact]
    public void AnaLogRejectsShortBufferAndEmptyIsHeaderOnly()
    {
        Assert.Throws<ArgumentException>(() => AnaLog.Write(new byte[100], 0, Groups(), groupsOnly: false));
        byte[] b = Filled(16);
        Assert.Equal(16, AnaLog.Write(b, 4, [], groupsOnly: false));
        Assert.Equal(4ul, U64(b, 0));
        Assert.Equal(0, U16(b, 8));
    }

    [Fact]
    public void AnaStateValues()
    {
        Assert.Equal(1, (byte)AnaState.Optimized);
        Assert.Equal(2, (byte)AnaState.NonOptimized);
        Assert.Equal(3, (byte)AnaState.Inaccessible);
        Assert.Equal(4, (byte)AnaState.PersistentLoss);
        Assert.Equal(0xF, (byte)AnaState.Change);
    }

    [Fact]
    public void DiscoveryHeaderAndEntries()
    {
        DiscoveryLogEntry nvm = new()
        {
            AddressFamily = DiscoveryLog.AddressFamilyIPv4,
            SubsystemType = DiscoveryLog.SubsystemTypeNvm,
            TransportRequirements = DiscoveryLog.TreqSecureChannelNotRequired | DiscoveryLog.TreqDisableSqFlowControl,
            PortId = 0x0102,
            AdminMaxSubmissionQueueSize = 32,
            EntryFlags = 0,
            TransportServiceId = "4420",
            SubsystemNqn = "nqn.2024-01.io.novastor:vol-1",
            TransportAddress = "192.168.1.10",
        };
        DiscoveryLogEntry self = nvm with
        {
            AddressFamily = DiscoveryLog.AddressFamilyIPv6,
            SubsystemType = DiscoveryLog.SubsystemTypeCurrentDiscovery,
            EntryFlags = DiscoveryLog.EflagsExplicitPersistentConnection | DiscoveryLog.EflagsDuplicateReturnedInformation,
            TransportServiceId = "8009",
            SubsystemNqn = "nqn.2014-08.org.nvmexpress.discovery",
            TransportAddress = "fe80::1",
            TcpSecurityType = 2,
        };

        Assert.Equal(1024 * 3, DiscoveryLog.GetLength(2));
        Assert.Equal(1024, DiscoveryLog.GetLength(0));
        byte[] b = Filled(1024 * 3);
        Assert.Equal(3072, DiscoveryLog.Write(b, 42, [nvm, self]));

        Assert.Equal(42ul, U64(b, 0));
        Assert.Equal(2ul, U64(b, 8));
        Assert.Equal(0, U16(b, 16));
        Assert.All(b[18..1024], x => Assert.Equal(0, x));

        int e = 1024;
        Assert.Equal(3, b[e + 0]);
        Assert.Equal(1, b[e + 1]);
        Assert.Equal(2, b[e + 2]);
        Assert.Equal(0x06, b[e + 3]);
        Assert.Equal(0x0102, U16(b, e + 4));
        Assert.Equal(0xFFFF, U16(b, e + 6));
        Assert.Equal(32, U16(b, e + 8));
        Assert.Equal(0, U16(b, e + 10));
        Assert.All(b[(e + 12)..(e + 32)], x => Assert.Equal(0, x));
        Assert.Equal("4420", Encoding.ASCII.GetString(b, e + 32, 4));
        Assert.All(b[(e + 36)..(e + 256)], x => Assert.Equal(0, x));
        Assert.Equal("nqn.2024-01.io.novastor:vol-1", Encoding.ASCII.GetString(b, e + 256, 29));
        Assert.All(b[(e + 285)..(e + 512)], x => Assert.Equal(0, x));
        Assert.Equal("192.168.1.10", Encoding.ASCII.GetString(b, e + 512, 12));
        Assert.All(b[(e + 524)..(e + 1024)], x => Assert.Equal(0, x));

        e = 2048;
        Assert.Equal(3, b[e + 0]);
        Assert.Equal(2, b[e + 1]);
        Assert.Equal(3, b[e + 2]);
        Assert.Equal(0x03, U16(b, e + 10));
        Assert.Equal("8009", Encoding.ASCII.GetString(b, e + 32, 4));
        Assert.Equal("nqn.2014-08.org.nvmexpress.discovery", Encoding.ASCII.GetString(b, e + 256, 36));
        Assert.Equal("fe80::1", Encoding.ASCII.GetString(b, e + 512, 7));
        Assert.Equal(2, b[e + 768]);
        Assert.All(b[(e + 769)..(e + 1024)], x => Assert.Equal(0, x));
    }

    [Fact]
    public void DiscoveryRejectsShortBuffer()
    {
        DiscoveryLogEntry entry = new() { TransportServiceId = "4420", SubsystemNqn = "nqn.x", TransportAddress = "10.0.0.1" };
        Assert.Throws<ArgumentException>(() => DiscoveryLog.Write(new byte[2047], 1, [entry]));
        byte[] header = Filled(1024);
        Assert.Equal(1024, DiscoveryLog.Write(header, 9, []));
        Assert.Equal(9ul, U64(header, 0));
        Assert.Equal(0ul, U64(header, 8));
    }

    [Fact]
    public void WindowCopiesDwordAlignedOffsetsAndZeroFillsPastTheEnd()
    {
        byte[] page = Enumerable.Range(0, 3072).Select(i => (byte)(i * 7)).ToArray();

        byte[] all = Filled(4096);
        Assert.True(LogPageWindow.Copy(page, 0, all));
        Assert.Equal(page, all[..3072]);
        Assert.All(all[3072..], x => Assert.Equal(0, x));

        byte[] window = Filled(16);
        Assert.True(LogPageWindow.Copy(page, 1024, window));
        Assert.Equal(page[1024..1040], window);

        byte[] tail = Filled(64);
        Assert.True(LogPageWindow.Copy(page, 3068, tail));
        Assert.Equal(page[3068..], tail[..4]);
        Assert.All(tail[4..], x => Assert.Equal(0, x));

        byte[] atEnd = Filled(8);
        Assert.True(LogPageWindow.Copy(page, 3072, atEnd));
        Assert.All(atEnd, x => Assert.Equal(0, x));
    }

    [Fact]
    public void WindowRejectsOffsetsBeyondTheEndOrUnaligned()
    {
        byte[] page = new byte[512];
        byte[] dest = Filled(16);
        Assert.False(LogPageWindow.Copy(page, 516, dest));
        Assert.False(LogPageWindow.Copy(page, ulong.MaxValue & ~3ul, dest));
        Assert.False(LogPageWindow.Copy(page, 2, dest));
        Assert.All(dest, x => Assert.Equal(0xCC, x));
        Assert.True(LogPageWindow.IsValidOffset(512, 512));
        Assert.False(LogPageWindow.IsValidOffset(512, 513));
    }

    [Fact]
    public void DiscoveryWindowedReadsAssembleTheFullPage()
    {
        DiscoveryLogEntry[] entries = Enumerable.Range(0, 5)
            .Select(i => new DiscoveryLogEntry
            {
                PortId = (ushort)i,
                TransportServiceId = "4420",
                SubsystemNqn = $"nqn.2024-01.io.novastor:vol-{i}",
                TransportAddress = "10.0.0.1",
            })
            .ToArray();
        byte[] page = new byte[DiscoveryLog.GetLength(entries.Length)];
        DiscoveryLog.Write(page, 3, entries);

        // libnvme: the header, then entries from offset 1024 in 4 KiB pieces.
        byte[] assembled = new byte[page.Length];
        Assert.True(LogPageWindow.Copy(page, 0, assembled.AsSpan(0, 1024)));
        for (int at = 1024; at < page.Length; at += 4096)
        {
            int n = Math.Min(4096, page.Length - at);
            Assert.True(LogPageWindow.Copy(page, (ulong)at, assembled.AsSpan(at, n)));
        }

        Assert.Equal(page, assembled);
    }
}
