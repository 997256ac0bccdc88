using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Discovery log page (LID 70h) (NVMe over Fabrics; Linux struct nvmf_disc_rsp_page_hdr and
// struct nvmf_disc_rsp_page_entry).
//
// Header, 1024 bytes:
//  0   u64 GENCTR  generation counter (changes whenever the log changes)
//  8   u64 NUMREC  number of records
//  16  u16 RECFMT  record format (0)
//  18..1023 reserved
// Then NUMREC entries of 1024 bytes each, entry n at 1024 * (n + 1):
//  0    u8  TRTYPE   transport type (3 TCP)
//  1    u8  ADRFAM   address family (1 IPv4, 2 IPv6)
//  2    u8  SUBTYPE  (1 referral, 2 NVM subsystem, 3 current discovery subsystem)
//  3    u8  TREQ     transport requirements (bits 1:0 secure channel, bit 2 SQ flow control disable)
//  4    u16 PORTID
//  6    u16 CNTLID   (FFFFh dynamic)
//  8    u16 ASQSZ    admin max SQ size
//  10   u16 EFLAGS   entry flags
//  32   32  TRSVCID  transport service id (ASCII, NUL padded as the Linux target does)
//  256  256 SUBNQN   (NUL terminated)
//  512  256 TRADDR   transport address (ASCII, NUL padded)
//  768  256 TSAS     transport specific address subtype; TCP: SECTYPE @0 (0 none, 1 TLS 1.2, 2 TLS 1.3)

/// <summary>One discovery log page entry.</summary>
public sealed record DiscoveryLogEntry
{
    /// <summary>TRTYPE: transport type.</summary>
    public byte TransportType { get; init; } = DiscoveryLog.TransportTypeTcp;

    /// <summary>ADRFAM: address family.</summary>
    public byte AddressFamily { get; init; } = DiscoveryLog.AddressFamilyIPv4;

    /// <summary>SUBTYPE: subsystem type.</summary>
    public byte SubsystemType { get; init; } = DiscoveryLog.SubsystemTypeNvm;

    /// <summary>TREQ: transport requirements.</summary>
    public byte TransportRequirements { get; init; }

    /// <summary>PORTID: NVM subsystem port ID.</summary>
    public ushort PortId { get; init; }

    /// <summary>CNTLID: controller ID, FFFFh for the dynamic controller model.</summary>
    public ushort ControllerId { get; init; } = 0xFFFF;

    /// <summary>ASQSZ: maximum admin submission queue size.</summary>
    public ushort AdminMaxSubmissionQueueSize { get; init; }

    /// <summary>EFLAGS: entry flags (bit 0 duplicate returned information, bit 1 explicit persistent connection, bit 2 no CDC connectivity).</summary>
    public ushort EntryFlags { get; init; }

    /// <summary>TRSVCID: transport service identifier (the TCP port, in decimal).</summary>
    public required string TransportServiceId { get; init; }

    /// <summary>SUBNQN: subsystem NQN.</summary>
    public required string SubsystemNqn { get; init; }

    /// <summary>TRADDR: transport address (IP address text).</summary>
    public required string TransportAddress { get; init; }

    /// <summary>TSAS SECTYPE for TCP: 0 none, 1 TLS 1.2, 2 TLS 1.3.</summary>
    public byte TcpSecurityType { get; init; }

    /// <summary>Writes the 1024-byte entry into the start of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        WireText.RequireLength(destination, DiscoveryLog.EntrySize, nameof(DiscoveryLogEntry));
        Span<byte> d = destination[..DiscoveryLog.EntrySize];
        d.Clear();
        d[0] = TransportType;
        d[1] = AddressFamily;
        d[2] = SubsystemType;
        d[3] = TransportRequirements;
        BinaryPrimitives.WriteUInt16LittleEndian(d[4..], PortId);
        BinaryPrimitives.WriteUInt16LittleEndian(d[6..], ControllerId);
        BinaryPrimitives.WriteUInt16LittleEndian(d[8..], AdminMaxSubmissionQueueSize);
        BinaryPrimitives.WriteUInt16LittleEndian(d[10..], EntryFlags);
        WireText.WriteAsciiPadded(d.Slice(32, 32), TransportServiceId, 0);
        WireText.WriteNqn(d.Slice(256, 256), SubsystemNqn, nameof(SubsystemNqn));
        WireText.WriteAsciiPadded(d.Slice(512, 256), TransportAddress, 0);
        d[768] = TcpSecurityType;
    }
}

/// <summary>Writer of the discovery log page (LID 70h).</summary>
public static class DiscoveryLog
{
    /// <summary>Bytes of the header.</summary>
    public const int HeaderSize = 1024;

    /// <summary>Bytes of one entry.</summary>
    public const int EntrySize = 1024;

    /// <summary>TRTYPE: TCP.</summary>
    public const byte TransportTypeTcp = 3;

    /// <summary>ADRFAM: IPv4.</summary>
    public const byte AddressFamilyIPv4 = 1;

    /// <summary>ADRFAM: IPv6.</summary>
    public const byte AddressFamilyIPv6 = 2;

    /// <summary>SUBTYPE: referral to another discovery service.</summary>
    public const byte SubsystemTypeReferral = 1;

    /// <summary>SUBTYPE: NVM subsystem.</summary>
    public const byte SubsystemTypeNvm = 2;

    /// <summary>SUBTYPE: the current discovery subsystem.</summary>
    public const byte SubsystemTypeCurrentDiscovery = 3;

    /// <summary>
    /// TREQ bits 1:0 = 00b: secure channel not specified. What nvmet reports without TLS: libnvme 1.3
    /// turns any explicit value into a <c>tls</c> connect option, which a 6.1 kernel rejects.
    /// </summary>
    public const byte TreqSecureChannelNotSpecified = 0x00;

    /// <summary>TREQ bits 1:0 = 01b: secure channel required.</summary>
    public const byte TreqSecureChannelRequired = 0x01;

    /// <summary>TREQ bits 1:0 = 10b: secure channel not required.</summary>
    public const byte TreqSecureChannelNotRequired = 0x02;

    /// <summary>TREQ bit 2: SQ flow control disable supported.</summary>
    public const byte TreqDisableSqFlowControl = 0x04;

    /// <summary>EFLAGS bit 0: duplicate returned information.</summary>
    public const ushort EflagsDuplicateReturnedInformation = 1 << 0;

    /// <summary>EFLAGS bit 1: explicit persistent connection support for discovery.</summary>
    public const ushort EflagsExplicitPersistentConnection = 1 << 1;

    /// <summary>EFLAGS bit 2: no CDC connectivity.</summary>
    public const ushort EflagsNoCdcConnectivity = 1 << 2;

    /// <summary>Full page length with <paramref name="entryCount"/> entries: 1024 * (1 + n).</summary>
    public static long GetLength(int entryCount) => (long)HeaderSize + ((long)EntrySize * entryCount);

    /// <summary>Writes the 1024-byte header (GENCTR, NUMREC, RECFMT 0).</summary>
    public static void WriteHeader(Span<byte> destination, ulong generation, ulong recordCount)
    {
        WireText.RequireLength(destination, HeaderSize, nameof(DiscoveryLog));
        Span<byte> d = destination[..HeaderSize];
        d.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d[0..], generation);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], recordCount);
    }

    /// <summary>
    /// Writes the header and every entry into the start of <paramref name="destination"/>, which
    /// must hold <see cref="GetLength"/> bytes. Returns the page length.
    /// </summary>
    public static int Write(Span<byte> destination, ulong generation, IReadOnlyList<DiscoveryLogEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        long length = GetLength(entries.Count);
        if (length > destination.Length)
        {
            throw new ArgumentException(
                $"The discovery log needs {length} bytes, got {destination.Length}.", nameof(destination));
        }

        WriteHeader(destination, generation, (ulong)entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            entries[i].WriteTo(destination.Slice(HeaderSize + (i * EntrySize), EntrySize));
        }

        return (int)length;
    }
}
