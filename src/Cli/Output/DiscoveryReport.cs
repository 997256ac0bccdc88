using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using NovaStor.Initiator.Discovery;

namespace NovaStor.Cli.Output;

/// <summary>The discovery log as nvme-cli's discover prints it (entry blocks, or a JSON object with "records").</summary>
internal static class DiscoveryReport
{
    public static string Text(DiscoveryLogPage page)
    {
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"Discovery Log Number of Records {page.Records.Count}, Generation counter {page.Generation}\n");
        for (int i = 0; i < page.Records.Count; i++)
        {
            var r = page.Records[i];
            s.Append(CultureInfo.InvariantCulture, $"=====Discovery Log Entry {i}======\n");
            Line(s, "trtype", TransportType(r.TransportType));
            Line(s, "adrfam", AddressFamily(r.AddressFamily));
            Line(s, "subtype", SubsystemType(r.SubsystemType));
            Line(s, "treq", Requirements(r.TransportRequirements));
            Line(s, "portid", r.PortId.ToString(CultureInfo.InvariantCulture));
            Line(s, "trsvcid", r.ServiceId);
            Line(s, "subnqn", r.SubsystemNqn);
            Line(s, "traddr", r.Address);
            Line(s, "eflags", Flags(r.EntryFlags));
            Line(s, "sectype", SecurityType(r.TcpSecurityType));
        }

        return s.ToString();
    }

    public static JsonObject Json(DiscoveryLogPage page)
    {
        var records = new JsonArray();
        foreach (var r in page.Records)
        {
            records.Add((JsonNode)new JsonObject
            {
                ["trtype"] = TransportType(r.TransportType),
                ["adrfam"] = AddressFamily(r.AddressFamily),
                ["subtype"] = SubsystemType(r.SubsystemType),
                ["treq"] = Requirements(r.TransportRequirements),
                ["portid"] = r.PortId,
                ["trsvcid"] = r.ServiceId,
                ["subnqn"] = r.SubsystemNqn,
                ["traddr"] = r.Address,
                ["eflags"] = Flags(r.EntryFlags),
                ["sectype"] = SecurityType(r.TcpSecurityType),
            });
        }

        return new JsonObject { ["genctr"] = page.Generation, ["records"] = records };
    }

    private static string TransportType(byte value) => value switch
    {
        1 => "rdma",
        2 => "fc",
        3 => "tcp",
        254 => "loop",
        _ => $"unknown ({value})",
    };

    private static string AddressFamily(byte value) => value switch
    {
        1 => "ipv4",
        2 => "ipv6",
        3 => "infiniband",
        4 => "fibre-channel",
        254 => "loop",
        _ => $"unknown ({value})",
    };

    private static string SubsystemType(byte value) => value switch
    {
        1 => "discovery subsystem referral",
        2 => "nvme subsystem",
        3 => "current discovery subsystem",
        _ => $"unknown ({value})",
    };

    // TREQ bits 1:0 secure channel, bit 2 SQ flow control disable supported.
    private static string Requirements(byte value)
    {
        string secure = (value & 0x3) switch
        {
            1 => "required",
            2 => "not required",
            _ => "not specified",
        };
        return (value & 0x4) != 0 ? secure + ", sq flow control disable supported" : secure;
    }

    // EFLAGS: bit 0 duplicate returned information, bit 1 explicit persistent connection, bit 2 no CDC connectivity.
    private static string Flags(ushort value)
    {
        var names = new List<string>();
        if ((value & 1) != 0)
        {
            names.Add("duplicate discovery information");
        }

        if ((value & 2) != 0)
        {
            names.Add("explicit discovery connections");
        }

        if ((value & 4) != 0)
        {
            names.Add("no cdc connectivity");
        }

        return names.Count == 0 ? "none" : string.Join(", ", names);
    }

    private static string SecurityType(byte value) => value switch
    {
        0 => "none",
        1 => "tls1.2",
        2 => "tls1.3",
        _ => $"unknown ({value})",
    };

    private static void Line(StringBuilder s, string name, string value) =>
        s.Append((name + ":").PadRight(9)).Append(value).Append('\n');
}
