using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Output;

/// <summary>Volumes, their changed-region maps and the node's capacity, as text and as JSON (the proto's field names).</summary>
internal static class VolumeReport
{
    public static string Text(Volume v)
    {
        var s = new StringBuilder();
        Line(s, "name", v.Name);
        Line(s, "id", v.Id);
        Line(s, "size", Size(v.SizeBytes));
        Line(s, "block size", v.BlockSize.ToString(CultureInfo.InvariantCulture));
        Line(s, "allocated", Size(v.AllocatedBytes));
        Line(s, "drives", v.Drives.Count == 0 ? "-" : string.Join(", ", v.Drives));
        if (v.ChunkBytes > 0)
        {
            Line(s, "chunk", Units.Bytes(v.ChunkBytes));
        }

        Line(s, "exports", Exports(v));
        return s.ToString();
    }

    public static string List(IReadOnlyCollection<Volume> volumes)
    {
        if (volumes.Count == 0)
        {
            return "no volumes\n";
        }

        var table = new Table("name", "size", "block", "allocated", "drives", "exports").Numeric("size", "block", "allocated");
        foreach (var v in volumes)
        {
            table.Add(v.Name, Units.Bytes(v.SizeBytes), v.BlockSize.ToString(CultureInfo.InvariantCulture), Units.Bytes(v.AllocatedBytes),
                v.Drives.Count == 0 ? "-" : string.Join(",", v.Drives), Exports(v));
        }

        return table.ToString();
    }

    public static JsonObject Json(Volume v)
    {
        var exports = new JsonArray();
        foreach (var e in v.Exports)
        {
            exports.Add((JsonNode)new JsonObject { ["subsystem_nqn"] = e.SubsystemNqn, ["namespace_id"] = e.NamespaceId });
        }

        return new JsonObject
        {
            ["name"] = v.Name,
            ["id"] = v.Id,
            ["size_bytes"] = v.SizeBytes,
            ["block_size"] = v.BlockSize,
            ["allocated_bytes"] = v.AllocatedBytes,
            ["drives"] = new JsonArray([.. v.Drives.Select(d => (JsonNode?)d)]),
            ["chunk_bytes"] = v.ChunkBytes,
            ["exports"] = exports,
        };
    }

    public static JsonObject ListJson(IEnumerable<Volume> volumes) =>
        new() { ["volumes"] = new JsonArray([.. volumes.Select(v => (JsonNode?)Json(v))]) };

    public static string Changes(string name, ChangedRegions c, bool cleared)
    {
        var s = new StringBuilder();
        Line(s, "volume", name);
        Line(s, "region size", Units.Bytes(c.RegionBytes));
        Line(s, "regions", c.RegionCount.ToString(CultureInfo.InvariantCulture));
        Line(s, "changed", string.Create(CultureInfo.InvariantCulture, $"{c.ChangedRegionCount} ({Units.Bytes((double)c.ChangedRegionCount * c.RegionBytes)})"));
        Line(s, "complete", c.Complete
            ? "yes"
            : "no: the map may miss changes (the target stopped without saving it); copy the whole volume");
        if (cleared)
        {
            Line(s, "cleared", "yes: the next map holds only changes made from now on");
        }

        return s.ToString();
    }

    public static JsonObject ChangesJson(string name, ChangedRegions c, bool cleared) => new()
    {
        ["volume"] = name,
        ["region_bytes"] = c.RegionBytes,
        ["region_count"] = c.RegionCount,
        ["changed_region_count"] = c.ChangedRegionCount,
        ["complete"] = c.Complete,
        ["cleared"] = cleared,
        // Bit r is bit (r % 8) of byte (r / 8).
        ["bitmap"] = c.Bitmap.ToBase64(),
    };

    public static string Capacity(Capacity c)
    {
        var s = new StringBuilder();
        Line(s, "available", Size(c.AvailableBytes));
        Line(s, "total", Size(c.TotalBytes));
        Line(s, "provisioned", Size(c.ProvisionedBytes));
        Line(s, "largest volume", Size(c.MaximumVolumeBytes));
        return s.ToString();
    }

    public static JsonObject CapacityJson(Capacity c) => new()
    {
        ["available_bytes"] = c.AvailableBytes,
        ["total_bytes"] = c.TotalBytes,
        ["provisioned_bytes"] = c.ProvisionedBytes,
        ["maximum_volume_bytes"] = c.MaximumVolumeBytes,
    };

    private static string Exports(Volume v) => v.Exports.Count == 0
        ? "-"
        : string.Join(", ", v.Exports.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.SubsystemNqn} nsid {e.NamespaceId}")));

    /// <summary>"1.00 GiB (1073741824 bytes)".</summary>
    private static string Size(ulong bytes) => string.Create(CultureInfo.InvariantCulture, $"{Units.Bytes(bytes)} ({bytes} bytes)");

    private static void Line(StringBuilder s, string name, string value) =>
        s.Append(name.PadRight(14)).Append(": ").Append(value).Append('\n');
}
