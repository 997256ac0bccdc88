using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using NovaStor.Initiator.Identify;

namespace NovaStor.Cli.Output;

/// <summary>
/// Identify Controller as nvme-cli's id-ctrl prints it: its field names (vid, sn, mn, ...) and
/// values, for the fields the host library parses.
/// </summary>
internal static class ControllerReport
{
    public static string Text(ControllerInfo c)
    {
        var s = new StringBuilder();
        Line(s, "vid", $"0x{c.VendorId:x4}");
        Line(s, "sn", c.SerialNumber);
        Line(s, "mn", c.ModelNumber);
        Line(s, "fr", c.FirmwareRevision);
        Line(s, "cmic", $"0x{c.MultiPathCapabilities:x}");
        Line(s, "mdts", c.MaxDataTransferShift.ToString(CultureInfo.InvariantCulture));
        Line(s, "cntlid", $"0x{c.ControllerId:x4}");
        Line(s, "ver", $"0x{c.Version:x8} ({Units.Version(c.Version)})");
        Line(s, "rtd3e", c.ShutdownLatencyMicroseconds.ToString(CultureInfo.InvariantCulture));
        Line(s, "oaes", $"0x{c.AsyncEventsSupported:x}");
        Line(s, "cntrltype", c.ControllerType.ToString(CultureInfo.InvariantCulture));
        Line(s, "aerl", c.AsyncEventRequestLimit.ToString(CultureInfo.InvariantCulture));
        Line(s, "kas", c.KeepAliveSupport.ToString(CultureInfo.InvariantCulture));
        Line(s, "maxcmd", c.MaxCommands.ToString(CultureInfo.InvariantCulture));
        Line(s, "nn", c.NamespaceCount.ToString(CultureInfo.InvariantCulture));
        Line(s, "oncs", $"0x{c.OptionalCommands:x} ({Oncs(c)})");
        Line(s, "vwc", c.VolatileWriteCache ? "0x1" : "0");
        Line(s, "ocfs", $"0x{c.CopyFormats:x}");
        Line(s, "sgls", $"0x{c.SglSupport:x}");
        Line(s, "subnqn", c.SubsystemNqn);
        Line(s, "ioccsz", c.IoCommandCapsuleSize.ToString(CultureInfo.InvariantCulture));
        Line(s, "iorcsz", c.IoResponseCapsuleSize.ToString(CultureInfo.InvariantCulture));
        return s.ToString();
    }

    public static JsonObject Json(ControllerInfo c) => new()
    {
        ["vid"] = c.VendorId,
        ["sn"] = c.SerialNumber,
        ["mn"] = c.ModelNumber,
        ["fr"] = c.FirmwareRevision,
        ["cmic"] = c.MultiPathCapabilities,
        ["mdts"] = c.MaxDataTransferShift,
        ["cntlid"] = c.ControllerId,
        ["ver"] = c.Version,
        ["rtd3e"] = c.ShutdownLatencyMicroseconds,
        ["oaes"] = c.AsyncEventsSupported,
        ["cntrltype"] = c.ControllerType,
        ["aerl"] = c.AsyncEventRequestLimit,
        ["kas"] = c.KeepAliveSupport,
        ["maxcmd"] = c.MaxCommands,
        ["nn"] = c.NamespaceCount,
        ["oncs"] = c.OptionalCommands,
        ["vwc"] = c.VolatileWriteCache ? 1 : 0,
        ["ocfs"] = c.CopyFormats,
        ["sgls"] = c.SglSupport,
        ["subnqn"] = c.SubsystemNqn,
        ["ioccsz"] = c.IoCommandCapsuleSize,
        ["iorcsz"] = c.IoResponseCapsuleSize,
    };

    private static string Oncs(ControllerInfo c)
    {
        var names = new List<string>();
        if (c.SupportsCompare)
        {
            names.Add("compare");
        }

        if (c.SupportsDatasetManagement)
        {
            names.Add("dsm");
        }

        if (c.SupportsWriteZeroes)
        {
            names.Add("write-zeroes");
        }

        if (c.SupportsCopy)
        {
            names.Add("copy");
        }

        return names.Count == 0 ? "none" : string.Join(", ", names);
    }

    private static void Line(StringBuilder s, string name, string value) =>
        s.Append(name.PadRight(10)).Append(": ").Append(value).Append('\n');
}
