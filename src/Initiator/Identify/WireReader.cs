using System.Text;

namespace NovaStor.Initiator.Identify;

/// <summary>Reads the text fields of Identify and log pages: ASCII padded with spaces or NULs.</summary>
internal static class WireReader
{
    public static string Text(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        if (end >= 0)
        {
            field = field[..end];
        }

        return Encoding.ASCII.GetString(field).TrimEnd(' ');
    }
}
