using System.Buffers.Binary;
using NovaStor.Initiator.Identify;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Discovery;

/// <summary>One discovery log entry (1024 bytes; layout in NovaStor.Protocol's DiscoveryLog).</summary>
public sealed record DiscoveryRecord
{
    public byte TransportType { get; init; }
    public byte AddressFamily { get; init; }
    /// <summary>SUBTYPE: 1 referral, 2 NVM subsystem, 3 current discovery subsystem.</summary>
    public byte SubsystemType { get; init; }
    public byte TransportRequirements { get; init; }
    public ushort PortId { get; init; }
    public ushort ControllerId { get; init; }
    public ushort AdminMaxSubmissionQueueSize { get; init; }
    public ushort EntryFlags { get; init; }
    /// <summary>TRSVCID: the TCP port, as text.</summary>
    public string ServiceId { get; init; } = "";
    public string SubsystemNqn { get; init; } = "";
    /// <summary>TRADDR: the IP address, as text.</summary>
    public string Address { get; init; } = "";
    /// <summary>TSAS SECTYPE for TCP: 0 none, 1 TLS 1.2, 2 TLS 1.3.</summary>
    public byte TcpSecurityType { get; init; }

    public bool IsReferral => SubsystemType == DiscoveryLog.SubsystemTypeReferral;
    public bool IsNvmSubsystem => SubsystemType == DiscoveryLog.SubsystemTypeNvm;

    public static DiscoveryRecord Parse(ReadOnlySpan<byte> e) => new()
    {
        TransportType = e[0],
        AddressFamily = e[1],
        SubsystemType = e[2],
        TransportRequirements = e[3],
        PortId = BinaryPrimitives.ReadUInt16LittleEndian(e[4..]),
        ControllerId = BinaryPrimitives.ReadUInt16LittleEndian(e[6..]),
        AdminMaxSubmissionQueueSize = BinaryPrimitives.ReadUInt16LittleEndian(e[8..]),
        EntryFlags = BinaryPrimitives.ReadUInt16LittleEndian(e[10..]),
        ServiceId = WireReader.Text(e.Slice(32, 32)),
        SubsystemNqn = WireReader.Text(e.Slice(256, 256)),
        Address = WireReader.Text(e.Slice(512, 256)),
        TcpSecurityType = e[768],
    };
}

/// <summary>A consistent discovery log: every record read under one generation counter.</summary>
public sealed record DiscoveryLogPage(ulong Generation, IReadOnlyList<DiscoveryRecord> Records)
{
    public IEnumerable<DiscoveryRecord> Subsystems => Records.Where(r => r.IsNvmSubsystem);

    /// <summary>Other discovery services this one refers the host to.</summary>
    public IEnumerable<DiscoveryRecord> Referrals => Records.Where(r => r.IsReferral);
}
