using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Asymmetric Namespace Access log page (LID 0Ch) (NVMe Base 2.x; Linux struct nvme_ana_rsp_hdr
// and struct nvme_ana_group_desc):
//
// Header, 16 bytes:
//  0  u64 CHGCNT  change count
//  8  u16 NGRPS   number of group descriptors
//  10 6 bytes reserved
// Then NGRPS group descriptors, each 32 bytes + 4 x NNSIDS:
//  0  u32 ANAGRPID
//  4  u32 NNSIDS  (0 when the host set RGO, "return groups only", LSP bit 0)
//  8  u64 CHGCNT
//  16 u8  ANA state (bits 3:0)
//  17 15 bytes reserved
//  32 u32 NSID[NNSIDS] (omitted with RGO)

/// <summary>ANA state of a group on a controller.</summary>
public enum AnaState : byte
{
    /// <summary>ANA optimized.</summary>
    Optimized = 0x01,

    /// <summary>ANA non-optimized.</summary>
    NonOptimized = 0x02,

    /// <summary>ANA inaccessible.</summary>
    Inaccessible = 0x03,

    /// <summary>ANA persistent loss.</summary>
    PersistentLoss = 0x04,

    /// <summary>ANA change (transitioning).</summary>
    Change = 0x0F,
}

/// <summary>One ANA group as reported to a controller.</summary>
/// <param name="GroupId">ANAGRPID (never 0).</param>
/// <param name="State">ANA state of the group on this controller.</param>
/// <param name="ChangeCount">CHGCNT of the group.</param>
/// <param name="Nsids">Attached NSIDs of the group, ascending.</param>
public readonly record struct AnaGroupDescriptor(uint GroupId, AnaState State, ulong ChangeCount, ReadOnlyMemory<uint> Nsids);

/// <summary>Writer of the ANA log page (LID 0Ch).</summary>
public static class AnaLog
{
    /// <summary>Bytes of the log header.</summary>
    public const int HeaderSize = 16;

    /// <summary>Bytes of a group descriptor before its NSID list.</summary>
    public const int GroupDescriptorSize = 32;

    /// <summary>LSP bit 0 of Get Log Page (CDW10 bits 11:8): return groups only (RGO).</summary>
    public const byte LspReturnGroupsOnly = 0x01;

    /// <summary>Full page length for <paramref name="groups"/>, with or without their NSID lists.</summary>
    public static int GetLength(ReadOnlySpan<AnaGroupDescriptor> groups, bool groupsOnly)
    {
        int length = HeaderSize + (groups.Length * GroupDescriptorSize);
        if (!groupsOnly)
        {
            foreach (AnaGroupDescriptor group in groups)
            {
                length += 4 * group.Nsids.Length;
            }
        }

        return length;
    }

    /// <summary>
    /// Writes the page into the start of <paramref name="destination"/> (which must hold
    /// <see cref="GetLength"/> bytes) and returns its length. With <paramref name="groupsOnly"/>
    /// (RGO) every NNSIDS is 0 and no NSIDs follow the descriptors.
    /// </summary>
    public static int Write(Span<byte> destination, ulong changeCount, ReadOnlySpan<AnaGroupDescriptor> groups, bool groupsOnly)
    {
        if (groups.Length > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(groups), groups.Length, "At most 65535 ANA groups.");
        }

        int length = GetLength(groups, groupsOnly);
        WireText.RequireLength(destination, length, nameof(AnaLog));
        Span<byte> d = destination[..length];
        d.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d[0..], changeCount);
        BinaryPrimitives.WriteUInt16LittleEndian(d[8..], (ushort)groups.Length);

        int at = HeaderSize;
        foreach (AnaGroupDescriptor group in groups)
        {
            ReadOnlySpan<uint> nsids = groupsOnly ? ReadOnlySpan<uint>.Empty : group.Nsids.Span;
            BinaryPrimitives.WriteUInt32LittleEndian(d[at..], group.GroupId);
            BinaryPrimitives.WriteUInt32LittleEndian(d[(at + 4)..], (uint)nsids.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(d[(at + 8)..], group.ChangeCount);
            d[at + 16] = (byte)((byte)group.State & 0x0F);
            at += GroupDescriptorSize;
            foreach (uint nsid in nsids)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(d[at..], nsid);
                at += 4;
            }
        }

        return length;
    }
}
