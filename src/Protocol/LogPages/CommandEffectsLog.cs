using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Commands Supported and Effects log page (LID 05h), 4096 bytes:
//   0     1024  ACS0..ACS255   admin commands, one u32 LE per opcode
//   1024  1024  IOCS0..IOCS255 I/O commands, one u32 LE per opcode
//   2048  2048  reserved
// Each entry: bit 0 CSUPP (supported), bit 1 LBCC (may change logical block content),
// bit 2 NCC (namespace capabilities), bit 3 NIC (namespace inventory), bit 4 CCC (controller
// capabilities), bits 18:16 CSE (submission and execution constraints; 0: none).

/// <summary>Writer of the commands supported and effects log page (LID 05h).</summary>
public static class CommandEffectsLog
{
    /// <summary>Full page length.</summary>
    public const int Length = 4096;

    /// <summary>CSUPP: the command is supported.</summary>
    public const uint Supported = 1u << 0;

    /// <summary>LBCC: the command may change the content of logical blocks.</summary>
    public const uint ChangesBlockContent = 1u << 1;

    private const int IoOffset = 1024;

    /// <summary>Writes the page: each admin and I/O opcode with its effects word.</summary>
    public static void Write(Span<byte> destination, ReadOnlySpan<(byte Opcode, uint Effects)> admin, ReadOnlySpan<(byte Opcode, uint Effects)> io)
    {
        WireText.RequireLength(destination, Length, nameof(CommandEffectsLog));
        Span<byte> d = destination[..Length];
        d.Clear();
        foreach (var (opcode, effects) in admin)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d[(4 * opcode)..], effects);
        }

        foreach (var (opcode, effects) in io)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d[(IoOffset + (4 * opcode))..], effects);
        }
    }
}
