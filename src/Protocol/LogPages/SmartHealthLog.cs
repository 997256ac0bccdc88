using System.Buffers.Binary;

namespace NovaStor.Protocol;

// SMART / Health Information log page (LID 02h), 512 bytes (Linux struct nvme_smart_log):
//
//  offset size field                          offset size field
//  0      1    Critical Warning               112    16   Power Cycles
//  1      2    Composite Temperature (Kelvin) 128    16   Power On Hours
//  3      1    Available Spare (%)            144    16   Unsafe Shutdowns
//  4      1    Available Spare Threshold (%)  160    16   Media and Data Integrity Errors
//  5      1    Percentage Used                176    16   Number of Error Information Log Entries
//  6      1    Endurance Group Crit. Warning  192    4    Warning Composite Temperature Time (min)
//  32     16   Data Units Read                196    4    Critical Composite Temperature Time (min)
//  48     16   Data Units Written             200    2*8  Temperature Sensor 1..8 (Kelvin)
//  64     16   Host Read Commands             216..511 reserved / thermal management (zero)
//  80     16   Host Write Commands
//  96     16   Controller Busy Time (minutes)
//
// The 16-byte counters are unsigned 128-bit little endian. A data unit is 1000 x 512 bytes
// (rounded up).

/// <summary>The SMART / health information log page (LID 02h).</summary>
public sealed class SmartHealthLog
{
    /// <summary>Full page length.</summary>
    public const int Length = 512;

    /// <summary>Bytes in one data unit of DataUnitsRead / DataUnitsWritten.</summary>
    public const int BytesPerDataUnit = 512 * 1000;

    /// <summary>Critical warning bits (bit 0 spare, 1 temperature, 2 reliability, 3 read-only, 4 volatile backup).</summary>
    public byte CriticalWarning { get; set; }

    /// <summary>Composite temperature in Kelvin.</summary>
    public ushort CompositeTemperature { get; set; }

    /// <summary>Available spare, percent.</summary>
    public byte AvailableSpare { get; set; }

    /// <summary>Available spare threshold, percent.</summary>
    public byte AvailableSpareThreshold { get; set; }

    /// <summary>Percentage used (may exceed 100).</summary>
    public byte PercentageUsed { get; set; }

    /// <summary>Endurance group critical warning summary.</summary>
    public byte EnduranceGroupCriticalWarningSummary { get; set; }

    /// <summary>Data units (1000 x 512 bytes) read.</summary>
    public UInt128 DataUnitsRead { get; set; }

    /// <summary>Data units (1000 x 512 bytes) written.</summary>
    public UInt128 DataUnitsWritten { get; set; }

    /// <summary>Read commands completed.</summary>
    public UInt128 HostReadCommands { get; set; }

    /// <summary>Write commands completed.</summary>
    public UInt128 HostWriteCommands { get; set; }

    /// <summary>Controller busy time in minutes.</summary>
    public UInt128 ControllerBusyTime { get; set; }

    /// <summary>Power cycles.</summary>
    public UInt128 PowerCycles { get; set; }

    /// <summary>Power-on hours.</summary>
    public UInt128 PowerOnHours { get; set; }

    /// <summary>Unsafe shutdowns.</summary>
    public UInt128 UnsafeShutdowns { get; set; }

    /// <summary>Media and data integrity errors.</summary>
    public UInt128 MediaErrors { get; set; }

    /// <summary>Number of error information log entries over the controller's life.</summary>
    public UInt128 NumErrorLogEntries { get; set; }

    /// <summary>Minutes above the warning composite temperature threshold.</summary>
    public uint WarningCompositeTemperatureTime { get; set; }

    /// <summary>Minutes above the critical composite temperature threshold.</summary>
    public uint CriticalCompositeTemperatureTime { get; set; }

    /// <summary>Data units (rounded up, as the spec asks) for a byte count.</summary>
    public static UInt128 ToDataUnits(UInt128 bytes) => (bytes + (BytesPerDataUnit - 1)) / BytesPerDataUnit;

    /// <summary>Writes the 512-byte page into the start of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        WireText.RequireLength(destination, Length, nameof(SmartHealthLog));
        Span<byte> d = destination[..Length];
        d.Clear();
        d[0] = CriticalWarning;
        BinaryPrimitives.WriteUInt16LittleEndian(d[1..], CompositeTemperature);
        d[3] = AvailableSpare;
        d[4] = AvailableSpareThreshold;
        d[5] = PercentageUsed;
        d[6] = EnduranceGroupCriticalWarningSummary;
        BinaryPrimitives.WriteUInt128LittleEndian(d[32..], DataUnitsRead);
        BinaryPrimitives.WriteUInt128LittleEndian(d[48..], DataUnitsWritten);
        BinaryPrimitives.WriteUInt128LittleEndian(d[64..], HostReadCommands);
        BinaryPrimitives.WriteUInt128LittleEndian(d[80..], HostWriteCommands);
        BinaryPrimitives.WriteUInt128LittleEndian(d[96..], ControllerBusyTime);
        BinaryPrimitives.WriteUInt128LittleEndian(d[112..], PowerCycles);
        BinaryPrimitives.WriteUInt128LittleEndian(d[128..], PowerOnHours);
        BinaryPrimitives.WriteUInt128LittleEndian(d[144..], UnsafeShutdowns);
        BinaryPrimitives.WriteUInt128LittleEndian(d[160..], MediaErrors);
        BinaryPrimitives.WriteUInt128LittleEndian(d[176..], NumErrorLogEntries);
        BinaryPrimitives.WriteUInt32LittleEndian(d[192..], WarningCompositeTemperatureTime);
        BinaryPrimitives.WriteUInt32LittleEndian(d[196..], CriticalCompositeTemperatureTime);
    }
}
