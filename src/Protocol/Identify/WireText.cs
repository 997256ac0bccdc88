using System.Text;

namespace NovaStor.Protocol;

/// <summary>Fixed-width text fields of Identify structures and log pages.</summary>
internal static class WireText
{
    /// <summary>
    /// Writes <paramref name="value"/> as ASCII into the whole of <paramref name="field"/>,
    /// padded with <paramref name="pad"/> (space for SN/MN/FR, NUL for transport strings) and
    /// truncated to the field width, as the Linux target does. Characters outside printable
    /// ASCII become '?'.
    /// </summary>
    public static void WriteAsciiPadded(Span<byte> field, string? value, byte pad)
    {
        value ??= string.Empty;
        int n = Math.Min(value.Length, field.Length);
        for (int i = 0; i < n; i++)
        {
            char c = value[i];
            field[i] = c is >= ' ' and <= '~' ? (byte)c : (byte)'?';
        }

        field[n..].Fill(pad);
    }

    /// <summary>
    /// Writes an NQN (UTF-8) NUL terminated and NUL padded into <paramref name="field"/>.
    /// Throws when it does not fit with its terminator: a truncated NQN names another subsystem.
    /// </summary>
    public static void WriteNqn(Span<byte> field, string? value, string fieldName)
    {
        field.Clear();
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        if (Encoding.UTF8.GetByteCount(value) > field.Length - 1)
        {
            throw new ArgumentException(
                $"{fieldName} is longer than {field.Length - 1} bytes of UTF-8: '{value}'.", fieldName);
        }

        Encoding.UTF8.GetBytes(value, field);
    }

    /// <summary>
    /// Copies a fixed-size binary identifier (NGUID, EUI-64, FGUID, UUID). Empty means all
    /// zero; any other length than <paramref name="field"/>'s is an error.
    /// </summary>
    public static void WriteIdentifier(Span<byte> field, ReadOnlySpan<byte> value, string fieldName)
    {
        if (value.IsEmpty)
        {
            field.Clear();
            return;
        }

        if (value.Length != field.Length)
        {
            throw new ArgumentException(
                $"{fieldName} must be {field.Length} bytes (or empty), not {value.Length}.", fieldName);
        }

        value.CopyTo(field);
    }

    /// <summary>Throws unless <paramref name="destination"/> holds at least <paramref name="length"/> bytes.</summary>
    public static void RequireLength(Span<byte> destination, int length, string structure)
    {
        if (destination.Length < length)
        {
            throw new ArgumentException(
                $"{structure} needs a {length}-byte buffer, got {destination.Length}.", nameof(destination));
        }
    }
}
