using System.Globalization;

namespace NovaStor.Cli.Output;

internal static class Units
{
    private static readonly string[] Suffixes = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    /// <summary>1073741824 -> "1.00 GiB".</summary>
    public static string Bytes(double bytes)
    {
        int unit = 0;
        while (bytes >= 1024 && unit < Suffixes.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B")
            : string.Create(CultureInfo.InvariantCulture, $"{bytes:0.00} {Suffixes[unit]}");
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>VER as major.minor.tertiary (31:16, 15:8, 7:0).</summary>
    public static string Version(uint version) =>
        string.Create(CultureInfo.InvariantCulture, $"{version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}");
}
