using System.Buffers.Binary;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Identify;

/// <summary>
/// What the host uses of the Identify Controller data (CNS 01h); offsets are those of
/// NovaStor.Protocol's IdentifyControllerData layout (NVMe Base 2.x, Linux struct nvme_id_ctrl).
/// </summary>
public sealed record ControllerInfo
{
    public ushort VendorId { get; init; }
    public string SerialNumber { get; init; } = "";
    public string ModelNumber { get; init; } = "";
    public string FirmwareRevision { get; init; } = "";
    /// <summary>CMIC @76: bit 1 several controllers, bit 3 ANA reporting.</summary>
    public byte MultiPathCapabilities { get; init; }
    /// <summary>MDTS @77: 2^MDTS minimum pages per command; 0 means no limit.</summary>
    public byte MaxDataTransferShift { get; init; }
    public ushort ControllerId { get; init; }
    public uint Version { get; init; }
    /// <summary>RTD3E @88 in microseconds: how long a shutdown may take.</summary>
    public uint ShutdownLatencyMicroseconds { get; init; }
    /// <summary>OAES @92: bit 8 namespace attribute notices, bit 11 ANA change notices.</summary>
    public uint AsyncEventsSupported { get; init; }
    public byte ControllerType { get; init; }
    /// <summary>AERL @259, 0-based: Asynchronous Event Requests the controller parks at once.</summary>
    public byte AsyncEventRequestLimit { get; init; }
    /// <summary>KAS @320: keep-alive granularity in 100 ms units.</summary>
    public ushort KeepAliveSupport { get; init; }
    public ushort MaxCommands { get; init; }
    public uint NamespaceCount { get; init; }
    /// <summary>ONCS @520: bit 0 Compare, bit 2 Dataset Management, bit 3 Write Zeroes, bit 8 Copy.</summary>
    public ushort OptionalCommands { get; init; }
    /// <summary>VWC @525 bit 0: a volatile write cache (Flush and FUA mean something).</summary>
    public bool VolatileWriteCache { get; init; }
    public ushort CopyFormats { get; init; }
    public uint SglSupport { get; init; }
    public string SubsystemNqn { get; init; } = "";
    /// <summary>IOCCSZ @1792 in 16-byte units: the I/O command capsule, SQE included.</summary>
    public uint IoCommandCapsuleSize { get; init; }
    public uint IoResponseCapsuleSize { get; init; }

    public bool SupportsCompare => (OptionalCommands & 0x1) != 0;
    public bool SupportsDatasetManagement => (OptionalCommands & 0x4) != 0;
    public bool SupportsWriteZeroes => (OptionalCommands & 0x8) != 0;
    public bool SupportsCopy => (OptionalCommands & 0x100) != 0;
    public bool NamespaceAttributeNotices => (AsyncEventsSupported & (1u << 8)) != 0;
    /// <summary>OAES bit 11: the controller sends an ANA change notice (log 0Ch) when a group's state changes.</summary>
    public bool AnaChangeNotices => (AsyncEventsSupported & (1u << 11)) != 0;
    /// <summary>CMIC bit 3: the controller reports ANA states (Identify ANAGRPID, log 0Ch).</summary>
    public bool AnaReporting => (MultiPathCapabilities & 0x8) != 0;

    /// <summary>In-capsule data an I/O queue accepts: IOCCSZ * 16 minus the 64-byte SQE.</summary>
    public int InCapsuleDataSize => (int)Math.Max(0, Math.Min(IoCommandCapsuleSize * 16L - PduSizes.SubmissionQueueEntry, int.MaxValue));

    public static ControllerInfo Parse(ReadOnlySpan<byte> d)
    {
        if (d.Length < IdentifyCns.IdentifyDataLength)
        {
            throw new ArgumentException($"Identify Controller data is {IdentifyCns.IdentifyDataLength} bytes, got {d.Length}", nameof(d));
        }

        return new ControllerInfo
        {
            VendorId = BinaryPrimitives.ReadUInt16LittleEndian(d),
            SerialNumber = WireReader.Text(d.Slice(4, 20)),
            ModelNumber = WireReader.Text(d.Slice(24, 40)),
            FirmwareRevision = WireReader.Text(d.Slice(64, 8)),
            MultiPathCapabilities = d[76],
            MaxDataTransferShift = d[77],
            ControllerId = BinaryPrimitives.ReadUInt16LittleEndian(d[78..]),
            Version = BinaryPrimitives.ReadUInt32LittleEndian(d[80..]),
            ShutdownLatencyMicroseconds = BinaryPrimitives.ReadUInt32LittleEndian(d[88..]),
            AsyncEventsSupported = BinaryPrimitives.ReadUInt32LittleEndian(d[92..]),
            ControllerType = d[111],
            AsyncEventRequestLimit = d[259],
            KeepAliveSupport = BinaryPrimitives.ReadUInt16LittleEndian(d[320..]),
            MaxCommands = BinaryPrimitives.ReadUInt16LittleEndian(d[514..]),
            NamespaceCount = BinaryPrimitives.ReadUInt32LittleEndian(d[516..]),
            OptionalCommands = BinaryPrimitives.ReadUInt16LittleEndian(d[520..]),
            VolatileWriteCache = (d[525] & 1) != 0,
            CopyFormats = BinaryPrimitives.ReadUInt16LittleEndian(d[534..]),
            SglSupport = BinaryPrimitives.ReadUInt32LittleEndian(d[536..]),
            SubsystemNqn = WireReader.Text(d.Slice(768, 256)),
            IoCommandCapsuleSize = BinaryPrimitives.ReadUInt32LittleEndian(d[1792..]),
            IoResponseCapsuleSize = BinaryPrimitives.ReadUInt32LittleEndian(d[1796..]),
        };
    }

    /// <summary>Bytes one command may move: 2^MDTS pages of 2^(12 + MPSMIN) bytes; null when MDTS is 0 (no limit).</summary>
    public long? MaxTransferBytes(int minimumPageShift) =>
        MaxDataTransferShift == 0 ? null : 1L << (12 + minimumPageShift + MaxDataTransferShift);
}
