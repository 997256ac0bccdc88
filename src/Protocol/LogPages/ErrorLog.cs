using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Error Information log page (LID 01h): ELPE + 1 entries of 64 bytes, newest first; an entry
// with Error Count 0 is invalid (no error). Entry layout (Linux struct nvme_error_slot):
//
//  offset size field
//  0      8    Error Count (unique, increasing; 0 = entry unused)
//  8      2    SQID
//  10     2    CID
//  12     2    Status Field (bit 0 phase tag, 15:1 status)
//  14     2    Parameter Error Location (7:0 byte, 10:8 bit)
//  16     8    LBA
//  24     4    Namespace
//  28     1    Vendor Specific Information Available
//  29     1    Transport Type
//  32     8    Command Specific Information
//  40     2    Transport Type Specific Information
//  63     1    Log Page Version
//  rest reserved (zero)

/// <summary>Error Information log page (LID 01h) helpers.</summary>
public static class ErrorLog
{
    /// <summary>Bytes in one error information entry.</summary>
    public const int EntrySize = 64;

    /// <summary>Full page length for a controller advertising <paramref name="elpe"/> (0-based) entries.</summary>
    public static int PageLength(byte elpe) => (elpe + 1) * EntrySize;

    /// <summary>
    /// Writes <paramref name="entries"/> (newest first) into <paramref name="destination"/> and zeroes the
    /// rest of it (zero entries mean "no error"). Returns the bytes of entries written.
    /// </summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<ErrorLogEntry> entries)
    {
        destination.Clear();
        int count = Math.Min(entries.Length, destination.Length / EntrySize);
        for (int i = 0; i < count; i++)
        {
            entries[i].WriteTo(destination.Slice(i * EntrySize, EntrySize));
        }

        return count * EntrySize;
    }
}

/// <summary>One 64-byte error information log entry.</summary>
public readonly record struct ErrorLogEntry(
    ulong ErrorCount,
    ushort SubmissionQueueId,
    ushort CommandId,
    ushort StatusField,
    ushort ParameterErrorLocation,
    ulong Lba,
    uint Nsid,
    byte VendorSpecificInformationAvailable = 0,
    byte TransportType = 0,
    ulong CommandSpecificInformation = 0,
    ushort TransportTypeSpecificInformation = 0,
    byte LogPageVersion = 0)
{
    /// <summary>Writes the 64-byte entry.</summary>
    public void WriteTo(Span<byte> destination)
    {
        WireText.RequireLength(destination, ErrorLog.EntrySize, nameof(ErrorLogEntry));
        Span<byte> d = destination[..ErrorLog.EntrySize];
        d.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d[0..], ErrorCount);
        BinaryPrimitives.WriteUInt16LittleEndian(d[8..], SubmissionQueueId);
        BinaryPrimitives.WriteUInt16LittleEndian(d[10..], CommandId);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], StatusField);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], ParameterErrorLocation);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Lba);
        BinaryPrimitives.WriteUInt32LittleEndian(d[24..], Nsid);
        d[28] = VendorSpecificInformationAvailable;
        d[29] = TransportType;
        BinaryPrimitives.WriteUInt64LittleEndian(d[32..], CommandSpecificInformation);
        BinaryPrimitives.WriteUInt16LittleEndian(d[40..], TransportTypeSpecificInformation);
        d[63] = LogPageVersion;
    }
}
