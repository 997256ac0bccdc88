using System.Text;

namespace NovaStor.Cli;

/// <summary>nvme-cli's dump layout: a column header, then 16 bytes a line with their offset and ASCII.</summary>
internal static class HexDump
{
    public static void Write(TextWriter writer, ReadOnlySpan<byte> data, long baseOffset)
    {
        var line = new StringBuilder(80);
        for (int offset = 0; offset < data.Length; offset += 16)
        {
            var row = data.Slice(offset, Math.Min(16, data.Length - offset));
            line.Clear();
            line.Append((baseOffset + offset).ToString("x8", System.Globalization.CultureInfo.InvariantCulture)).Append(':');
            for (int i = 0; i < 16; i++)
            {
                line.Append(i < row.Length ? $" {row[i]:x2}" : "   ");
            }

            line.Append("  \"");
            foreach (byte b in row)
            {
                line.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
            }

            line.Append('"');
            writer.WriteLine(line.ToString());
        }
    }

    public static void WriteHeader(TextWriter writer) =>
        writer.WriteLine("          0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f");
}
