using System.Globalization;
using System.Text.Json.Nodes;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Output;

/// <summary>The controllers (host associations) connected now, as a table and as JSON.</summary>
internal static class ControllerListReport
{
    public static string Text(IReadOnlyCollection<ControllerInfo> controllers) =>
        controllers.Count == 0 ? "no controllers\n" : Table(controllers, withSubsystem: true);

    public static string Table(IEnumerable<ControllerInfo> controllers, bool withSubsystem)
    {
        string[] columns = ["subsystem", "cntlid", "host nqn", "host id", "queues", "kato (ms)", "remote", "port id", "connected since"];
        var table = new Table(withSubsystem ? columns : columns[1..]).Numeric("cntlid", "queues", "kato (ms)", "port id");
        foreach (var c in controllers)
        {
            string[] cells =
            [
                c.SubsystemNqn, c.ControllerId.ToString(CultureInfo.InvariantCulture), c.HostNqn, Dash(c.HostId),
                c.QueueCount.ToString(CultureInfo.InvariantCulture), c.KeepAliveTimeoutMs.ToString(CultureInfo.InvariantCulture),
                Dash(c.RemoteAddress), c.PortId.ToString(CultureInfo.InvariantCulture), Since(c),
            ];
            table.Add(withSubsystem ? cells : cells[1..]);
        }

        return table.ToString();
    }

    public static JsonObject Json(IEnumerable<ControllerInfo> controllers) => new() { ["controllers"] = JsonArray(controllers) };

    public static JsonArray JsonArray(IEnumerable<ControllerInfo> controllers)
    {
        var array = new JsonArray();
        foreach (var c in controllers)
        {
            array.Add((JsonNode)new JsonObject
            {
                ["subsystem_nqn"] = c.SubsystemNqn,
                ["controller_id"] = c.ControllerId,
                ["host_nqn"] = c.HostNqn,
                ["host_id"] = c.HostId,
                ["queue_count"] = c.QueueCount,
                ["keep_alive_timeout_ms"] = c.KeepAliveTimeoutMs,
                ["remote_address"] = c.RemoteAddress,
                ["connected_since"] = c.ConnectedSince is null ? null : c.ConnectedSince.ToDateTimeOffset().ToString("O", CultureInfo.InvariantCulture),
                ["port_id"] = c.PortId,
            });
        }

        return array;
    }

    private static string Since(ControllerInfo c) => c.ConnectedSince is null
        ? "-"
        : c.ConnectedSince.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Dash(string value) => value.Length == 0 ? "-" : value;
}
