using System.Globalization;
using System.Text;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Statistics;

namespace NovaStor.Target.Observability;

/// <summary>
/// The per-namespace latency histograms in the Prometheus text format (0.0.4), as histograms:
/// cumulative <c>_bucket</c> series by upper bound (<c>le</c>, in seconds), <c>_sum</c> and
/// <c>_count</c>, straight from the buckets the queues fill (<see cref="LatencyBuckets"/>).
/// </summary>
/// <remarks>
/// Written by hand because neither exporter can carry a histogram aggregated elsewhere:
/// System.Diagnostics.Metrics has no observable histogram (a Histogram instrument would be recorded
/// once per command, on the I/O path), OpenTelemetry builds its metric points only from
/// measurements, and prometheus-net keeps its collector base internal. This is what the Prometheus
/// client libraries call a custom collector; the scrape appends it to the exporter's output.
/// </remarks>
internal sealed class LatencyExposition(SubsystemRegistry registry)
{
    public const string Name = "novastor_io_latency_seconds";

    /// <summary>The bucket bounds as label values, in seconds (exact: 2^i microseconds have at most 6 decimals).</summary>
    private static readonly string[] UpperBounds = [.. Enumerable.Range(0, LatencyBuckets.Count)
        .Select(i => (LatencyBuckets.UpperBoundMicroseconds(i) / 1e6).ToString("0.######", CultureInfo.InvariantCulture))];

    public string Render()
    {
        var text = new StringBuilder();
        text.Append("# HELP ").Append(Name).Append(" I/O command latency at the target, from the command's receipt to its completion, per namespace.\n");
        text.Append("# TYPE ").Append(Name).Append(" histogram\n");
        foreach (var subsystem in registry.Subsystems)
        {
            foreach (var ns in subsystem.Namespaces)
            {
                var totals = ns.Statistics.Snapshot();
                string labels = $"nsid=\"{ns.Id}\",subsystem=\"{Escape(subsystem.Nqn)}\",volume=\"{Escape(ns.VolumeName)}\"";
                long cumulative = 0;
                for (int i = 0; i < LatencyBuckets.Count; i++)
                {
                    cumulative += totals.Latency[i];
                    Sample(text, "_bucket", labels, UpperBounds[i], cumulative);
                }

                cumulative += totals.Latency[LatencyBuckets.Overflow];
                Sample(text, "_bucket", labels, "+Inf", cumulative);
                text.Append(Name).Append("_sum{").Append(labels).Append("} ")
                    .Append((totals.LatencySumMicroseconds / 1e6).ToString("R", CultureInfo.InvariantCulture)).Append('\n');
                text.Append(Name).Append("_count{").Append(labels).Append("} ").Append(cumulative).Append('\n');
            }
        }

        return text.ToString();
    }

    private static void Sample(StringBuilder text, string suffix, string labels, string upperBound, long value) =>
        text.Append(Name).Append(suffix).Append('{').Append(labels).Append(",le=\"").Append(upperBound).Append("\"} ").Append(value).Append('\n');

    /// <summary>A label value as the text format wants it: backslash, double quote and line feed escaped.</summary>
    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
