using System.Globalization;
using System.Text;

namespace NovaStor.EndToEnd;

/// <summary>
/// The rung's result as markdown: the conditions, a table of the file rows (beside fio on the same
/// file), a table of the memory and null rows, and with a second target a B-against-A table.
/// </summary>
internal static class RungTables
{
    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static string ToMarkdown(RunConditions conditions, IReadOnlyList<TargetUnderTest> targets, IReadOnlyList<RowRuns> rows)
    {
        var text = new StringBuilder();
        text.AppendLine(C, $"NovaStor over NVMe/TCP on loopback; client: the managed initiator's load generator, {conditions.Queues} I/O queue(s), the row's QD spread over them");
        foreach (var target in targets)
        {
            text.AppendLine(C, $"{target.Description} (pid {target.Process.Pid})");
        }

        if (conditions.FioVersion is not null)
        {
            text.AppendLine(C, $"file rows: namespace {RungRow.FileNamespaceId}, a {conditions.FileBytes >> 20} MiB file on {conditions.FileSystem} (O_DIRECT); beside it {conditions.FioVersion} (io_uring, O_DIRECT) on the same file");
        }

        if (conditions.MemoryBytes is { } memory)
        {
            text.AppendLine(C, $"memory rows: namespace {RungRow.MemoryNamespaceId}, Backend=Memory, {memory >> 20} MiB, {TargetProcess.BlockSize}-byte blocks; null rows: namespace {RungRow.NullNamespaceId}, Backend=Null (writes dropped), the same size");
        }

        text.AppendLine(C, $"{conditions.RuntimeSeconds:0.##} s per run after {conditions.RampSeconds:0.##} s ramp; medians of {conditions.Repeats} interleaved round(s); {conditions.Processors} CPUs shared by client and target(s); kernel {conditions.Kernel}, {conditions.DotNet}");
        text.AppendLine("latency: submit to completion as the client sees it (fio: lat). CPU us/IO: client process time, target utime+stime (/proc/PID/stat). ctx sw/IO: voluntary + involuntary, client getrusage, target /proc/PID/task/*/status");
        bool compare = targets.Count > 1;
        var fileRows = rows.Where(r => r.Row.Backend == RowBackend.File).ToList();
        if (fileRows.Count > 0)
        {
            text.AppendLine();
            text.AppendLine($"| file row |{(compare ? " target |" : "")} IOPS | MB/s | p50/p99/p99.9 us | CPU us/IO client/target | ctx sw/IO client/target | fio IOPS | fio MB/s | fio p50/p99/p99.9 us | fio CPU us/IO, ctx sw/IO | vs fio | v0.5.0 |");
            text.AppendLine($"|---|{(compare ? "---|" : "")}---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            foreach (var row in fileRows)
            {
                var fio = row.FioMedians()!;
                foreach (var target in targets)
                {
                    var side = row.MediansOf(target.Label);
                    bool first = target == targets[0];
                    string fioCells = first
                        ? string.Create(C, $"{fio.Iops:N0} | {fio.MegabytesPerSecond:N0} | {Latencies(fio.P50Micros, fio.P99Micros, fio.P999Micros)} | {fio.CpuMicrosPerIo:0.0}, {fio.SwitchesPerIo:0.00}")
                        : " | | | ";
                    string ratio = fio.Iops > 0 ? string.Create(C, $"{side.Iops / fio.Iops:P0}") : "-";
                    text.AppendLine(C, $"| {(first ? row.Row.Name : "")} |{(compare ? $" {target.Label} |" : "")} {Cells(side)} | {fioCells} | {ratio} | {(first ? row.Row.Seed : "")} |");
                }
            }
        }

        var memoryRows = rows.Where(r => r.Row.Backend != RowBackend.File).ToList();
        if (memoryRows.Count > 0)
        {
            text.AppendLine();
            text.AppendLine($"| memory or null row |{(compare ? " target |" : "")} IOPS | MB/s | p50/p99/p99.9 us | CPU us/IO client/target | ctx sw/IO client/target | v0.5.0 |");
            text.AppendLine($"|---|{(compare ? "---|" : "")}---:|---:|---:|---:|---:|---|");
            foreach (var row in memoryRows)
            {
                foreach (var target in targets)
                {
                    bool first = target == targets[0];
                    text.AppendLine(C, $"| {(first ? row.Row.Name : "")} |{(compare ? $" {target.Label} |" : "")} {Cells(row.MediansOf(target.Label))} | {(first ? row.Row.Seed : "")} |");
                }
            }
        }

        if (compare)
        {
            AppendComparison(text, targets[0].Label, targets[1].Label, rows);
        }

        return text.ToString();
    }

    /// <summary>B against A, row by row: what changed and where the CPU went.</summary>
    private static void AppendComparison(StringBuilder text, string a, string b, IReadOnlyList<RowRuns> rows)
    {
        text.AppendLine();
        text.AppendLine(C, $"| row | {a} IOPS | {b} IOPS | {b}/{a} | p50 us {a}/{b} | p99 us {a}/{b} | target CPU us/IO {a}/{b} | target ctx sw/IO {a}/{b} | client CPU us/IO {a}/{b} |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows)
        {
            var first = row.MediansOf(a);
            var second = row.MediansOf(b);
            string ratio = first.Iops > 0 ? string.Create(C, $"{second.Iops / first.Iops:0.00}x") : "-";
            text.AppendLine(C,
                $"| {row.Row.Name} | {first.Iops:N0} | {second.Iops:N0} | {ratio} | {first.P50Micros:0.0}/{second.P50Micros:0.0} | {first.P99Micros:0}/{second.P99Micros:0} | {Known(first.TargetCpuMicrosPerIo, "0.0")}/{Known(second.TargetCpuMicrosPerIo, "0.0")} | {Known(first.TargetSwitchesPerIo, "0.00")}/{Known(second.TargetSwitchesPerIo, "0.00")} | {first.ClientCpuMicrosPerIo:0.0}/{second.ClientCpuMicrosPerIo:0.0} |");
        }
    }

    private static string Cells(TargetMedians side) => string.Create(C,
        $"{side.Iops:N0} | {side.MegabytesPerSecond:N0} | {Latencies(side.P50Micros, side.P99Micros, side.P999Micros)} | {side.ClientCpuMicrosPerIo:0.0}/{Known(side.TargetCpuMicrosPerIo, "0.0")} | {side.ClientSwitchesPerIo:0.00}/{Known(side.TargetSwitchesPerIo, "0.00")}");

    private static string Latencies(double p50, double p99, double p999) => string.Create(C, $"{p50:0.0}/{p99:0}/{p999:0}");

    private static string Known(double? value, string format) => value is { } v ? v.ToString(format, C) : "-";
}
