using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json.Nodes;
using NovaStor.Initiator.Identify;

namespace NovaStor.Cli.Output;

/// <summary>Identify Namespace as nvme-cli's id-ns names its fields, for the fields the host library parses.</summary>
internal static class NamespaceReport
{
    public static string Text(NamespaceInfo n)
    {
        var s = new StringBuilder();
        Line(s, "nsid", n.Id.ToString(CultureInfo.InvariantCulture));
        Line(s, "nsze", $"0x{n.BlockCount:x} ({Units.Bytes(n.SizeBytes)})");
        Line(s, "ncap", $"0x{n.Capacity:x}");
        Line(s, "nuse", $"0x{n.Utilization:x}");
        Line(s, "lbads", $"{BitOperations.Log2((uint)n.BlockSize)} ({n.BlockSize} bytes)");
        Line(s, "nmic", n.Shared ? "0x1" : "0");
        Line(s, "dlfeat", $"{n.DeallocateFeatures} ({(n.DeallocatedReadsAsZeros ? "deallocated blocks read as zeros" : "deallocated blocks unspecified")})");
        Line(s, "noiob", n.OptimalIoBoundary.ToString(CultureInfo.InvariantCulture));
        Line(s, "mssrl", n.MaxSingleSourceRangeLength.ToString(CultureInfo.InvariantCulture));
        Line(s, "mcl", n.MaxCopyLength.ToString(CultureInfo.InvariantCulture));
        Line(s, "msrc", n.MaxSourceRangeCount.ToString(CultureInfo.InvariantCulture));
        Line(s, "anagrpid", n.AnaGroupId.ToString(CultureInfo.InvariantCulture));
        Line(s, "nguid", Units.Hex(n.Nguid.Span));
        return s.ToString();
    }

    public static JsonObject Json(NamespaceInfo n) => new()
    {
        ["nsid"] = n.Id,
        ["nsze"] = n.BlockCount,
        ["ncap"] = n.Capacity,
        ["nuse"] = n.Utilization,
        ["lbads"] = BitOperations.Log2((uint)n.BlockSize),
        ["block_size"] = n.BlockSize,
        ["nmic"] = n.Shared ? 1 : 0,
        ["dlfeat"] = n.DeallocateFeatures,
        ["noiob"] = n.OptimalIoBoundary,
        ["mssrl"] = n.MaxSingleSourceRangeLength,
        ["mcl"] = n.MaxCopyLength,
        ["msrc"] = n.MaxSourceRangeCount,
        ["anagrpid"] = n.AnaGroupId,
        ["nguid"] = Units.Hex(n.Nguid.Span),
    };

    private static void Line(StringBuilder s, string name, string value) =>
        s.Append(name.PadRight(9)).Append(": ").Append(value).Append('\n');
}
