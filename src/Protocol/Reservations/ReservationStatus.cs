using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Reservation Status data structure (Reservation Report data):
//
// Header (24 bytes; 64 with EDS):
//   0  u32 GEN     generation: changes with every registration change and preemption
//   4  u8  RTYPE   reservation type (0: none)
//   5  u16 REGCTL  number of registered controller entries that follow
//   7  2 bytes reserved
//   9  u8  PTPLS   persist through power loss state (bit 0)
//  10  14 bytes reserved (54 with EDS)
// Registered Controller data structure, 24 bytes each (EDS = 0):
//   0  u16 CNTLID  (FFFFh: a registrant with no controller now)
//   2  u8  RCSTS   bit 0: this controller's host holds the reservation
//   3  5 bytes reserved
//   8  u64 HOSTID  (64-bit host identifier)
//  16  u64 RKEY    reservation key
// Registered Controller Extended data structure, 64 bytes each (EDS = 1):
//   0  u16 CNTLID
//   2  u8  RCSTS
//   3  5 bytes reserved
//   8  u64 RKEY
//  16  16 bytes HOSTID (128-bit host identifier, as sent in Connect)
//  32  32 bytes reserved

/// <summary>One registered controller entry of a Reservation Report.</summary>
/// <param name="ControllerId">CNTLID, or <see cref="ReservationStatus.NoController"/>.</param>
/// <param name="HoldsReservation">RCSTS bit 0.</param>
/// <param name="HostId">The host identifier (128-bit, as Connect carries it).</param>
/// <param name="Key">RKEY.</param>
public readonly record struct RegisteredController(ushort ControllerId, bool HoldsReservation, Guid HostId, ulong Key);

/// <summary>A Reservation Report's content, read or to be written.</summary>
public sealed record ReservationStatus(uint Generation, ReservationType Type, bool PersistThroughPowerLoss, IReadOnlyList<RegisteredController> Controllers)
{
    /// <summary>CNTLID of a registrant that has no controller now (after a restart with PTPL).</summary>
    public const ushort NoController = 0xFFFF;

    public const int HeaderLength = 24;
    public const int ExtendedHeaderLength = 64;
    public const int EntryLength = 24;
    public const int ExtendedEntryLength = 64;

    /// <summary>Full length of the report for <paramref name="entries"/> controllers.</summary>
    public static int GetLength(int entries, bool extended) =>
        extended ? ExtendedHeaderLength + (entries * ExtendedEntryLength) : HeaderLength + (entries * EntryLength);

    /// <summary>Writes the report into a buffer of <see cref="GetLength"/> bytes.</summary>
    public void WriteTo(Span<byte> destination, bool extended)
    {
        int length = GetLength(Controllers.Count, extended);
        if (destination.Length < length)
        {
            throw new ArgumentException($"A reservation report of {Controllers.Count} entries needs {length} bytes.", nameof(destination));
        }

        var d = destination[..length];
        d.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, Generation);
        d[4] = (byte)Type;
        BinaryPrimitives.WriteUInt16LittleEndian(d[5..], (ushort)Controllers.Count);
        d[9] = PersistThroughPowerLoss ? (byte)1 : (byte)0;
        int offset = extended ? ExtendedHeaderLength : HeaderLength;
        Span<byte> id = stackalloc byte[16];
        foreach (var entry in Controllers)
        {
            var e = d[offset..];
            BinaryPrimitives.WriteUInt16LittleEndian(e, entry.ControllerId);
            e[2] = entry.HoldsReservation ? (byte)1 : (byte)0;
            if (extended)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(e[8..], entry.Key);
                entry.HostId.TryWriteBytes(e.Slice(16, 16), bigEndian: true, out _);
                offset += ExtendedEntryLength;
            }
            else
            {
                // The 64-bit HOSTID: the last 8 bytes of the 128-bit one.
                entry.HostId.TryWriteBytes(id, bigEndian: true, out _);
                id[8..].CopyTo(e.Slice(8, 8));
                BinaryPrimitives.WriteUInt64LittleEndian(e[16..], entry.Key);
                offset += EntryLength;
            }
        }
    }

    /// <summary>Reads a report (as many entries as <paramref name="source"/> holds of the REGCTL it announces).</summary>
    public static ReservationStatus Read(ReadOnlySpan<byte> source, bool extended)
    {
        int header = extended ? ExtendedHeaderLength : HeaderLength;
        int size = extended ? ExtendedEntryLength : EntryLength;
        if (source.Length < header)
        {
            throw new ArgumentException($"A reservation report is at least {header} bytes; got {source.Length}.", nameof(source));
        }

        int count = BinaryPrimitives.ReadUInt16LittleEndian(source[5..]);
        int available = Math.Min(count, (source.Length - header) / size);
        var entries = new RegisteredController[available];
        Span<byte> id = stackalloc byte[16];
        for (int i = 0; i < available; i++)
        {
            var e = source.Slice(header + (i * size), size);
            Guid hostId;
            ulong key;
            if (extended)
            {
                key = BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
                hostId = new Guid(e.Slice(16, 16), bigEndian: true);
            }
            else
            {
                id.Clear();
                e.Slice(8, 8).CopyTo(id[8..]);
                hostId = new Guid(id, bigEndian: true);
                key = BinaryPrimitives.ReadUInt64LittleEndian(e[16..]);
            }

            entries[i] = new RegisteredController(BinaryPrimitives.ReadUInt16LittleEndian(e), (e[2] & 1) != 0, hostId, key);
        }

        return new ReservationStatus(BinaryPrimitives.ReadUInt32LittleEndian(source), (ReservationType)source[4], (source[9] & 1) != 0, entries);
    }
}
