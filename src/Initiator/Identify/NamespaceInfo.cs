using System.Buffers.Binary;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Identify;

/// <summary>
/// What the host uses of Identify Namespace (CNS 00h, NVM command set); offsets as in
/// NovaStor.Protocol's IdentifyNamespaceData layout. LBAF[n] sits at 128 + 4n with LBADS at +2.
/// </summary>
public sealed record NamespaceInfo
{
    public uint Id { get; init; }
    /// <summary>NSZE @0: size in logical blocks.</summary>
    public ulong BlockCount { get; init; }
    public ulong Capacity { get; init; }
    public ulong Utilization { get; init; }
    /// <summary>Bytes per logical block, from LBAF[FLBAS].LBADS.</summary>
    public int BlockSize { get; init; }
    /// <summary>NMIC @30 bit 0: shared by several controllers.</summary>
    public bool Shared { get; init; }
    /// <summary>DLFEAT @33: bits 2:0 = 001b, deallocated blocks read as zeros.</summary>
    public byte DeallocateFeatures { get; init; }
    public ushort OptimalIoBoundary { get; init; }
    /// <summary>MSSRL @74: blocks in one Copy source range.</summary>
    public ushort MaxSingleSourceRangeLength { get; init; }
    /// <summary>MCL @76: blocks one Copy may move.</summary>
    public uint MaxCopyLength { get; init; }
    /// <summary>MSRC @80, 0-based: source ranges one Copy may carry.</summary>
    public byte MaxSourceRangeCount { get; init; }
    public uint AnaGroupId { get; init; }
    public ReadOnlyMemory<byte> Nguid { get; init; }

    public ulong SizeBytes => BlockCount * (ulong)BlockSize;

    public bool DeallocatedReadsAsZeros => (DeallocateFeatures & 0x7) == 1;

    /// <summary>Parses CNS 00h data; null for an inactive namespace (an all-zero structure).</summary>
    public static NamespaceInfo? Parse(uint id, ReadOnlySpan<byte> d)
    {
        if (d.Length < IdentifyCns.IdentifyDataLength)
        {
            throw new ArgumentException($"Identify Namespace data is {IdentifyCns.IdentifyDataLength} bytes, got {d.Length}", nameof(d));
        }

        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(d);
        if (size == 0)
        {
            return null;
        }

        // FLBAS bits 3:0 index the format, bits 6:5 extend it past 16 formats.
        int format = (d[26] & 0xF) | ((d[26] >> 5 & 0x3) << 4);
        int shift = d[128 + (4 * format) + 2];
        return new NamespaceInfo
        {
            Id = id,
            BlockCount = size,
            Capacity = BinaryPrimitives.ReadUInt64LittleEndian(d[8..]),
            Utilization = BinaryPrimitives.ReadUInt64LittleEndian(d[16..]),
            BlockSize = shift is >= 9 and <= 30 ? 1 << shift : throw new NvmeTransportException($"Identify Namespace {id}: LBADS {shift} of LBAF[{format}] is not a usable block size"),
            Shared = (d[30] & 1) != 0,
            DeallocateFeatures = d[33],
            OptimalIoBoundary = BinaryPrimitives.ReadUInt16LittleEndian(d[46..]),
            MaxSingleSourceRangeLength = BinaryPrimitives.ReadUInt16LittleEndian(d[74..]),
            MaxCopyLength = BinaryPrimitives.ReadUInt32LittleEndian(d[76..]),
            MaxSourceRangeCount = d[80],
            AnaGroupId = BinaryPrimitives.ReadUInt32LittleEndian(d[92..]),
            Nguid = d.Slice(104, 16).ToArray(),
        };
    }
}
