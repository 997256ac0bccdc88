using System.Globalization;
using System.Text.Json.Nodes;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Output;

/// <summary>Listeners (NVMe/TCP ports) and their ANA group states, as a table and as JSON.</summary>
internal static class ListenerReport
{
    /// <summary>The names `ana set --state` takes, and the ones printed.</summary>
    public static readonly IReadOnlyDictionary<string, AnaState> States = new Dictionary<string, AnaState>(StringComparer.Ordinal)
    {
        ["optimized"] = AnaState.Optimized,
        ["non-optimized"] = AnaState.NonOptimized,
        ["inaccessible"] = AnaState.Inaccessible,
        ["persistent-loss"] = AnaState.PersistentLoss,
    };

    public static string Name(AnaState state) => state switch
    {
        AnaState.Optimized => "optimized",
        AnaState.NonOptimized => "non-optimized",
        AnaState.Inaccessible => "inaccessible",
        AnaState.PersistentLoss => "persistent-loss",
        AnaState.Unspecified => "unspecified",
        _ => $"unknown ({(int)state})",
    };

    public static string List(IReadOnlyCollection<Listener> listeners)
    {
        if (listeners.Count == 0)
        {
            return "no listeners\n";
        }

        var table = new Table("port id", "address", "port", "static", "ana states").Numeric("port id", "port");
        foreach (var l in listeners)
        {
            table.Add(l.PortId.ToString(CultureInfo.InvariantCulture), l.Address, l.Port.ToString(CultureInfo.InvariantCulture), l.Static ? "yes" : "no", Ana(l));
        }

        return table.ToString();
    }

    /// <summary>"port 2 (127.0.0.1:4421), ANA: group 1 optimized (others optimized)".</summary>
    public static string Line(Listener l) =>
        string.Create(CultureInfo.InvariantCulture, $"port id {l.PortId}: {l.Address}:{l.Port}, ANA {Ana(l)}\n");

    public static JsonObject Json(Listener l)
    {
        var states = new JsonArray();
        foreach (var g in l.AnaStates)
        {
            states.Add((JsonNode)new JsonObject { ["group"] = g.Group, ["state"] = Name(g.State) });
        }

        return new JsonObject
        {
            ["port_id"] = l.PortId,
            ["address"] = l.Address,
            ["port"] = l.Port,
            ["ana_states"] = states,
            ["static"] = l.Static,
        };
    }

    public static JsonObject ListJson(IEnumerable<Listener> listeners) =>
        new() { ["listeners"] = new JsonArray([.. listeners.Select(l => (JsonNode?)Json(l))]) };

    /// <summary>Groups not listed are optimized.</summary>
    private static string Ana(Listener l) => l.AnaStates.Count == 0
        ? "all groups optimized"
        : string.Join(", ", l.AnaStates.OrderBy(g => g.Group).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Group}={Name(g.State)}")))
            + " (others optimized)";
}
