using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace NovaStor.EngineVsFio;

/// <summary>One side of a row, medians over the repeats.</summary>
public sealed record SideResult(double Iops, double MegabytesPerSecond, double P50Micros, double P99Micros,
    double CpuMicrosPerIo, double ContextSwitchesPerIo, IReadOnlyList<double> IopsPerRepeat);

/// <summary>fio's completion-only latency (clat), medians; it leaves out fio's submission time.</summary>
public sealed record CompletionLatency(double P50Micros, double P99Micros);

/// <summary>One row: the engine and fio, and the engine's IOPS as a fraction of fio's.</summary>
public sealed record RowResult(string Row, string Rw, int BlockSize, int QueueDepth, SideResult Engine, SideResult Fio,
    CompletionLatency FioClat, double Ratio);

/// <summary>Everything one run of the rung measured, with the conditions it ran under.</summary>
public sealed record RunReport(
    string Engine,
    int Reactors,
    bool DirectIo,
    string Kernel,
    string FioVersion,
    string Runtime,
    int ProcessorCount,
    string FileSystem,
    long FileSizeBytes,
    double RuntimeSeconds,
    double WarmUpSeconds,
    int Repeats,
    bool FioFixedBuffers,
    IReadOnlyList<RowResult> Rows)
{
    /// <summary>The conditions, one per line, then the markdown table.</summary>
    public string ToMarkdown()
    {
        var text = new StringBuilder();
        CultureInfo c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"engine: {Engine}, reactors: {Reactors}, O_DIRECT: {(DirectIo ? "yes" : "no")}");
        text.AppendLine(c, $"kernel: {Kernel}, fio: {FioVersion} (io_uring, direct=1{(FioFixedBuffers ? ", fixedbufs" : "")}), {Runtime}, {ProcessorCount} CPUs");
        text.AppendLine(c, $"file: {FileSizeBytes >> 20} MiB on {FileSystem}; runtime {RuntimeSeconds:0.##} s after {WarmUpSeconds:0.##} s warm-up, {Repeats} interleaved repeat(s), medians");
        text.AppendLine("latency: engine = Submit to completion callback; fio = lat (submission + completion), its clat is in the JSON");
        text.AppendLine("CPU and context switches per I/O: the engine's whole process (getrusage) vs fio's job (usr_cpu + sys_cpu, ctx)");
        text.AppendLine();
        text.AppendLine("| row | engine IOPS | fio IOPS | ratio | engine MB/s | fio MB/s | engine p50/p99 us | fio p50/p99 us | CPU us/IO engine/fio | ctx sw/IO engine/fio |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (RowResult row in Rows)
        {
            text.AppendLine(c,
                $"| {row.Row} | {row.Engine.Iops:N0} | {row.Fio.Iops:N0} | {row.Ratio:P0} | {row.Engine.MegabytesPerSecond:N0} | {row.Fio.MegabytesPerSecond:N0} | {row.Engine.P50Micros:0.#}/{row.Engine.P99Micros:0.#} | {row.Fio.P50Micros:0.#}/{row.Fio.P99Micros:0.#} | {row.Engine.CpuMicrosPerIo:0.0}/{row.Fio.CpuMicrosPerIo:0.0} | {row.Engine.ContextSwitchesPerIo:0.00}/{row.Fio.ContextSwitchesPerIo:0.00} |");
        }
        return text.ToString();
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(RunReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
