namespace NovaStor.Protocol;

// Firmware Slot Information log page (LID 03h), 512 bytes:
//   0      1  AFI   active firmware info: bits 2:0 the slot running now, bits 6:4 the slot
//                   activated at the next reset (0: none)
//   8     64  FRS1..FRS7  firmware revision in slot N (8 ASCII bytes each, space padded)
//   64   448  reserved

/// <summary>Writer of the firmware slot information log page (LID 03h).</summary>
public static class FirmwareSlotLog
{
    /// <summary>Full page length.</summary>
    public const int Length = 512;

    /// <summary>
    /// Writes a page with one slot (1), active and running <paramref name="revision"/> (at most 8
    /// ASCII characters, space padded, as FR in Identify Controller).
    /// </summary>
    public static void WriteSingleSlot(Span<byte> destination, string revision)
    {
        WireText.RequireLength(destination, Length, nameof(FirmwareSlotLog));
        Span<byte> d = destination[..Length];
        d.Clear();
        d[0] = 1; // AFI: slot 1 active; nothing pending
        WireText.WriteAsciiPadded(d.Slice(8, 8), revision, (byte)' ');
    }
}
