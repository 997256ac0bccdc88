using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Supported Log Pages log page (LID 00h), 1024 bytes: 256 LID Supported and Effects data
// structures (u32 LE), entry N describing log page N:
//   bit 0      LSUPP  the log page is supported
//   bit 1      IOS    index offset supported
//   bits 31:16 LIDSP  log-page-specific support

/// <summary>Writer of the supported log pages log page (LID 00h).</summary>
public static class SupportedLogPages
{
    /// <summary>Full page length.</summary>
    public const int Length = 1024;

    /// <summary>LSUPP: the log page is supported.</summary>
    public const uint Supported = 1u << 0;

    /// <summary>Writes the page, marking each of <paramref name="logIds"/> supported.</summary>
    public static void Write(Span<byte> destination, ReadOnlySpan<byte> logIds)
    {
        WireText.RequireLength(destination, Length, nameof(SupportedLogPages));
        Span<byte> d = destination[..Length];
        d.Clear();
        foreach (byte id in logIds)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d[(4 * id)..], Supported);
        }
    }
}
