using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Output;

/// <summary>Subsystems (their namespaces, admitted hosts and connected controllers) as text and as JSON.</summary>
internal static class SubsystemReport
{
    public static string Text(Subsystem s)
    {
        var text = new StringBuilder();
        Line(text, "nqn", s.Nqn);
        Line(text, "serial", s.SerialNumber);
        Line(text, "model", s.ModelNumber);
        Line(text, "static", s.Static ? "yes (from the configuration file: read-only here)" : "no");
        Line(text, "allow any host", s.AllowAnyHost ? "yes" : "no");
        Line(text, "hosts", s.AllowedHosts.Count == 0 ? "-" : string.Join(", ", s.AllowedHosts));
        if (s.AuthenticatedHosts.Count > 0)
        {
            Line(text, "authenticated", string.Join(", ", s.AuthenticatedHosts.Select(Authentication)));
        }

        Line(text, "listeners", s.AllListeners ? "all" : s.ListenerPortIds.Count == 0 ? "none" : "port ids " + string.Join(", ", s.ListenerPortIds));
        Line(text, "namespaces", s.Namespaces.Count.ToString(CultureInfo.InvariantCulture));
        if (s.Namespaces.Count > 0)
        {
            var table = new Table("nsid", "volume", "size", "block", "ana group", "nguid", "uuid").Numeric("nsid", "size", "block", "ana group");
            foreach (var n in s.Namespaces)
            {
                table.Add(n.Id.ToString(CultureInfo.InvariantCulture), n.Volume, Units.Bytes(n.SizeBytes), n.BlockSize.ToString(CultureInfo.InvariantCulture),
                    n.AnaGroup.ToString(CultureInfo.InvariantCulture), Dash(n.Nguid), Dash(n.Uuid));
            }

            Indent(text, table.ToString());
        }

        Line(text, "controllers", s.Controllers.Count.ToString(CultureInfo.InvariantCulture));
        if (s.Controllers.Count > 0)
        {
            Indent(text, ControllerListReport.Table(s.Controllers, withSubsystem: false));
        }

        return text.ToString();
    }

    public static string List(IReadOnlyCollection<Subsystem> subsystems)
    {
        if (subsystems.Count == 0)
        {
            return "no subsystems\n";
        }

        var table = new Table("nqn", "namespaces", "hosts", "controllers", "static", "model").Numeric("namespaces", "controllers");
        foreach (var s in subsystems)
        {
            table.Add(s.Nqn, s.Namespaces.Count.ToString(CultureInfo.InvariantCulture),
                s.AllowAnyHost ? "any" : s.AllowedHosts.Count.ToString(CultureInfo.InvariantCulture),
                s.Controllers.Count.ToString(CultureInfo.InvariantCulture), s.Static ? "yes" : "no", Dash(s.ModelNumber));
        }

        return table.ToString();
    }

    public static JsonObject Json(Subsystem s)
    {
        var namespaces = new JsonArray();
        foreach (var n in s.Namespaces)
        {
            namespaces.Add((JsonNode)new JsonObject
            {
                ["id"] = n.Id,
                ["volume"] = n.Volume,
                ["ana_group"] = n.AnaGroup,
                ["size_bytes"] = n.SizeBytes,
                ["block_size"] = n.BlockSize,
                ["nguid"] = n.Nguid,
                ["uuid"] = n.Uuid,
            });
        }

        return new JsonObject
        {
            ["nqn"] = s.Nqn,
            ["serial_number"] = s.SerialNumber,
            ["model_number"] = s.ModelNumber,
            ["allow_any_host"] = s.AllowAnyHost,
            ["allowed_hosts"] = new JsonArray([.. s.AllowedHosts.Select(h => (JsonNode?)h)]),
            ["authenticated_hosts"] = new JsonArray([.. s.AuthenticatedHosts.Select(h => (JsonNode?)new JsonObject
            {
                ["host_nqn"] = h.HostNqn,
                ["bidirectional"] = h.Bidirectional,
                ["hash"] = h.Hash,
                ["group"] = h.Group,
            })]),
            ["namespaces"] = namespaces,
            ["static"] = s.Static,
            ["all_listeners"] = s.AllListeners,
            ["listener_port_ids"] = new JsonArray([.. s.ListenerPortIds.Select(id => (JsonNode?)id)]),
            ["controllers"] = ControllerListReport.JsonArray(s.Controllers),
        };
    }

    public static JsonObject ListJson(IEnumerable<Subsystem> subsystems) =>
        new() { ["subsystems"] = new JsonArray([.. subsystems.Select(s => (JsonNode?)Json(s))]) };

    /// <summary>"nqn (DH-HMAC-CHAP, bidirectional, sha512, ffdhe3072)": how a host authenticates, never its secret.</summary>
    private static string Authentication(HostAuthentication h)
    {
        var how = new List<string> { "DH-HMAC-CHAP" };
        if (h.Bidirectional)
        {
            how.Add("bidirectional");
        }

        if (h.Hash.Length > 0)
        {
            how.Add(h.Hash);
        }

        if (h.Group.Length > 0)
        {
            how.Add(h.Group);
        }

        return $"{h.HostNqn} ({string.Join(", ", how)})";
    }

    private static string Dash(string value) => value.Length == 0 ? "-" : value;

    private static void Indent(StringBuilder s, string block)
    {
        foreach (string line in block.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            s.Append("  ").Append(line).Append('\n');
        }
    }

    private static void Line(StringBuilder s, string name, string value) =>
        s.Append(name.PadRight(14)).Append(": ").Append(value).Append('\n');
}
