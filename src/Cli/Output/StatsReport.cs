using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Output;

/// <summary>
/// Per-namespace and per-queue counters: tables with latency percentiles estimated from the
/// histogram, or JSON with the whole histogram (and the same estimates).
/// </summary>
internal static class StatsReport
{
    public static string Text(StatsResponse stats)
    {
        var s = new StringBuilder();
        s.Append("namespaces\n");
        if (stats.Namespaces.Count == 0)
        {
            s.Append("  none\n");
        }
        else
        {
            var table = new Table(["subsystem", "nsid", "volume", .. CounterColumns]).Numeric(["nsid", .. CounterColumns]);
            foreach (var n in stats.Namespaces)
            {
                table.Add([n.SubsystemNqn, n.NamespaceId.ToString(CultureInfo.InvariantCulture), n.Volume.Length == 0 ? "-" : n.Volume, .. Counters(n.Counters)]);
            }

            Indent(s, table.ToString());
        }

        s.Append("queues\n");
        if (stats.Queues.Count == 0)
        {
            s.Append("  none\n");
        }
        else
        {
            var table = new Table(["subsystem", "cntlid", "qid", .. CounterColumns]).Numeric(["cntlid", "qid", .. CounterColumns]);
            foreach (var q in stats.Queues)
            {
                table.Add([q.SubsystemNqn, q.ControllerId.ToString(CultureInfo.InvariantCulture), q.QueueId.ToString(CultureInfo.InvariantCulture), .. Counters(q.Counters)]);
            }

            Indent(s, table.ToString());
        }

        s.Append("latency: receipt to completion at the target; p50/p99 estimated from the histogram's buckets (-o json has the histogram)\n");
        return s.ToString();
    }

    public static JsonObject Json(StatsResponse stats)
    {
        var namespaces = new JsonArray();
        foreach (var n in stats.Namespaces)
        {
            namespaces.Add((JsonNode)new JsonObject
            {
                ["subsystem_nqn"] = n.SubsystemNqn,
                ["namespace_id"] = n.NamespaceId,
                ["volume"] = n.Volume,
                ["counters"] = CountersJson(n.Counters),
            });
        }

        var queues = new JsonArray();
        foreach (var q in stats.Queues)
        {
            queues.Add((JsonNode)new JsonObject
            {
                ["subsystem_nqn"] = q.SubsystemNqn,
                ["controller_id"] = q.ControllerId,
                ["queue_id"] = q.QueueId,
                ["counters"] = CountersJson(q.Counters),
            });
        }

        return new JsonObject { ["namespaces"] = namespaces, ["queues"] = queues };
    }

    /// <summary>
    /// The latency below which a fraction <paramref name="quantile"/> of the commands completed,
    /// interpolated linearly inside the bucket where that rank falls (the first bucket starts at 0).
    /// Null with no commands; +infinity when the rank falls in the overflow (beyond the last bound).
    /// </summary>
    public static double? Percentile(LatencyHistogram? histogram, double quantile)
    {
        if (histogram is null)
        {
            return null;
        }

        ulong total = histogram.Overflow;
        foreach (ulong count in histogram.Counts)
        {
            total += count;
        }

        if (total == 0)
        {
            return null;
        }

        double rank = Math.Clamp(quantile, 0, 1) * total;
        double below = 0;
        int buckets = Math.Min(histogram.Counts.Count, histogram.UpperBoundsUs.Count);
        for (int i = 0; i < buckets; i++)
        {
            ulong count = histogram.Counts[i];
            if (count > 0 && below + count >= rank)
            {
                double lower = i == 0 ? 0 : histogram.UpperBoundsUs[i - 1];
                double upper = histogram.UpperBoundsUs[i];
                return lower + ((upper - lower) * Math.Max(0, rank - below) / count);
            }

            below += count;
        }

        return double.PositiveInfinity;
    }

    /// <summary>12.5 -> "12.5us", 1500 -> "1.50ms", 2.5e6 -> "2.50s".</summary>
    public static string Latency(double? microseconds, LatencyHistogram? histogram = null) => microseconds switch
    {
        null => "-",
        double.PositiveInfinity => histogram is { UpperBoundsUs.Count: > 0 } ? ">" + Latency(histogram.UpperBoundsUs[^1]) : "overflow",
        < 10 => string.Create(CultureInfo.InvariantCulture, $"{microseconds:0.0}us"),
        < 1000 => string.Create(CultureInfo.InvariantCulture, $"{microseconds:0}us"),
        < 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{microseconds / 1000:0.00}ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{microseconds / 1_000_000:0.00}s"),
    };

    private static readonly string[] CounterColumns = ["reads", "writes", "other", "read", "written", "errors", "p50", "p99"];

    private static string[] Counters(IoCounters? c)
    {
        c ??= new IoCounters();
        return
        [
            Number(c.ReadCommands), Number(c.WriteCommands), Number(c.OtherCommands),
            Units.Bytes(c.BytesRead), Units.Bytes(c.BytesWritten), Number(c.Errors),
            Latency(Percentile(c.Latency, 0.50), c.Latency), Latency(Percentile(c.Latency, 0.99), c.Latency),
        ];
    }

    private static JsonObject CountersJson(IoCounters? c)
    {
        c ??= new IoCounters();
        var h = c.Latency ?? new LatencyHistogram();
        return new JsonObject
        {
            ["read_commands"] = c.ReadCommands,
            ["write_commands"] = c.WriteCommands,
            ["other_commands"] = c.OtherCommands,
            ["bytes_read"] = c.BytesRead,
            ["bytes_written"] = c.BytesWritten,
            ["errors"] = c.Errors,
            ["latency"] = new JsonObject
            {
                ["upper_bounds_us"] = new JsonArray([.. h.UpperBoundsUs.Select(b => (JsonNode?)b)]),
                ["counts"] = new JsonArray([.. h.Counts.Select(n => (JsonNode?)n)]),
                ["overflow"] = h.Overflow,
                ["sum_us"] = h.SumUs,
                // Estimates, as the table prints them: null with no commands or beyond the last bound.
                ["p50_us"] = Finite(Percentile(h, 0.50)),
                ["p99_us"] = Finite(Percentile(h, 0.99)),
            },
        };
    }

    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? Math.Round(v, 3) : null;

    private static string Number(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Indent(StringBuilder s, string block)
    {
        foreach (string line in block.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            s.Append("  ").Append(line).Append('\n');
        }
    }
}
