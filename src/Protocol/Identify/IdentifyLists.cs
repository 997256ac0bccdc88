using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Active Namespace ID list (CNS 02h), 4096 bytes: up to 1024 NSIDs (u32 LE), ascending, each
// greater than the NSID given in the command; unused entries are zero (the first zero ends
// the list).

/// <summary>Writer of the active namespace ID list (CNS 02h).</summary>
public static class ActiveNamespaceList
{
    /// <summary>Entries that fit in the 4096-byte list.</summary>
    public const int MaxEntries = IdentifyCns.IdentifyDataLength / 4;

    /// <summary>
    /// Writes the NSIDs of <paramref name="sortedNsids"/> (ascending) that are greater than
    /// <paramref name="greaterThan"/>, at most 1024, zero terminated, into the first 4096 bytes of
    /// <paramref name="destination"/>. Returns the number of NSIDs written.
    /// </summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<uint> sortedNsids, uint greaterThan)
    {
        WireText.RequireLength(destination, IdentifyCns.IdentifyDataLength, nameof(ActiveNamespaceList));
        Span<byte> d = destination[..IdentifyCns.IdentifyDataLength];
        d.Clear();
        int count = 0;
        foreach (uint nsid in sortedNsids)
        {
            if (nsid <= greaterThan)
            {
                continue;
            }

            if (count == MaxEntries)
            {
                break;
            }

            BinaryPrimitives.WriteUInt32LittleEndian(d[(4 * count)..], nsid);
            count++;
        }

        return count;
    }
}

// Namespace Identification Descriptor list (CNS 03h), 4096 bytes. Each descriptor:
//  0 NIDT (type)   1 NIDL (length of the identifier)   2..3 reserved   4.. NID (NIDL bytes)
// Types: 1 EUI-64 (8 B), 2 NGUID (16 B), 3 UUID (16 B), 4 CSI (1 B). A descriptor with
// NIDL 0 (the zeroed remainder) ends the list.

/// <summary>Writer of the namespace identification descriptor list (CNS 03h).</summary>
public static class NamespaceDescriptorList
{
    /// <summary>Bytes of each descriptor's header (NIDT, NIDL, 2 reserved).</summary>
    public const int HeaderSize = 4;

    /// <summary>NIDT: IEEE EUI-64 (8 bytes).</summary>
    public const byte TypeEui64 = 0x01;

    /// <summary>NIDT: namespace globally unique identifier (16 bytes).</summary>
    public const byte TypeNguid = 0x02;

    /// <summary>NIDT: namespace UUID (16 bytes).</summary>
    public const byte TypeUuid = 0x03;

    /// <summary>NIDT: command set identifier (1 byte).</summary>
    public const byte TypeCsi = 0x04;

    /// <summary>
    /// Writes NGUID, UUID (each only when 16 bytes and not all zero) and CSI descriptors into the
    /// first 4096 bytes of <paramref name="destination"/>. Returns the bytes used before the terminator.
    /// </summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> nguid16, ReadOnlySpan<byte> uuid16, byte csi) =>
        Write(destination, ReadOnlySpan<byte>.Empty, nguid16, uuid16, csi);

    /// <summary>
    /// Writes EUI-64, NGUID, UUID (each only when present and not all zero) and CSI descriptors, in
    /// that order (as the Linux target does). Returns the bytes used before the terminator.
    /// </summary>
    public static int Write(
        Span<byte> destination, ReadOnlySpan<byte> eui64, ReadOnlySpan<byte> nguid16, ReadOnlySpan<byte> uuid16, byte csi)
    {
        WireText.RequireLength(destination, IdentifyCns.IdentifyDataLength, nameof(NamespaceDescriptorList));
        Span<byte> d = destination[..IdentifyCns.IdentifyDataLength];
        d.Clear();
        int at = 0;
        at = Append(d, at, TypeEui64, eui64, 8, nameof(eui64));
        at = Append(d, at, TypeNguid, nguid16, 16, nameof(nguid16));
        at = Append(d, at, TypeUuid, uuid16, 16, nameof(uuid16));
        d[at] = TypeCsi;
        d[at + 1] = 1;
        d[at + HeaderSize] = csi;
        return at + HeaderSize + 1;
    }

    private static int Append(Span<byte> d, int at, byte type, ReadOnlySpan<byte> id, int length, string name)
    {
        if (id.IsEmpty || !id.ContainsAnyExcept((byte)0))
        {
            return at;
        }

        if (id.Length != length)
        {
            throw new ArgumentException($"NIDT {type} identifier must be {length} bytes, not {id.Length}.", name);
        }

        d[at] = type;
        d[at + 1] = (byte)length;
        id.CopyTo(d[(at + HeaderSize)..]);
        return at + HeaderSize + length;
    }
}

// Identify I/O Command Set data structure (CNS 1Ch), 4096 bytes: 512 I/O command set
// combinations of 8 bytes (u64 LE), bit n = command set n (bit 0 NVM, bit 1 key value,
// bit 2 zoned). Combination 0 is the one the controller uses unless told otherwise.

/// <summary>Writer of the I/O command set combination list (CNS 1Ch).</summary>
public static class CommandSetCombinationList
{
    /// <summary>Combination with only the NVM command set.</summary>
    public const ulong NvmOnly = 1UL << 0;

    /// <summary>Writes combination 0 = NVM command set only (other combinations zero).</summary>
    public static void Write(Span<byte> destination) => Write(destination, NvmOnly);

    /// <summary>Writes combination 0 = <paramref name="combination0"/> (other combinations zero).</summary>
    public static void Write(Span<byte> destination, ulong combination0)
    {
        WireText.RequireLength(destination, IdentifyCns.IdentifyDataLength, nameof(CommandSetCombinationList));
        Span<byte> d = destination[..IdentifyCns.IdentifyDataLength];
        d.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d, combination0);
    }
}

// Controller list (CNS 12h: controllers attached to the NSID; CNS 13h: controllers in the NVM
// subsystem), 4096 bytes: NUMID u16 LE at 0 (how many identifiers follow, at most 2047), then
// NUMID controller identifiers (u16 LE) in ascending order, each greater than or equal to the
// CNTID in CDW10 bits 31:16; the rest is zero.

/// <summary>Writer of the controller lists (CNS 12h, 13h).</summary>
public static class ControllerList
{
    /// <summary>Identifiers that fit after NUMID.</summary>
    public const int MaxEntries = (IdentifyCns.IdentifyDataLength / 2) - 1;

    /// <summary>
    /// Writes the IDs of <paramref name="sortedIds"/> (ascending) that are at least
    /// <paramref name="atLeast"/>, at most 2047, into the first 4096 bytes of
    /// <paramref name="destination"/>. Returns the number written (NUMID).
    /// </summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<ushort> sortedIds, ushort atLeast)
    {
        WireText.RequireLength(destination, IdentifyCns.IdentifyDataLength, nameof(ControllerList));
        Span<byte> d = destination[..IdentifyCns.IdentifyDataLength];
        d.Clear();
        int count = 0;
        foreach (ushort id in sortedIds)
        {
            if (id < atLeast)
            {
                continue;
            }

            if (count == MaxEntries)
            {
                break;
            }

            BinaryPrimitives.WriteUInt16LittleEndian(d[(2 + (2 * count))..], id);
            count++;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(d, (ushort)count);
        return count;
    }
}
