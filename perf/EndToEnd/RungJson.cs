using System.Text.Json;

namespace NovaStor.EndToEnd;

/// <summary>
/// The JSON artifact: the conditions, the targets, and per row every run of every round on every
/// side (the load generator's whole report for a target, fio's figures for the raw file) and the
/// medians the tables show.
/// </summary>
internal static class RungJson
{
    public static void Write(Stream stream, RunConditions conditions, IReadOnlyList<TargetUnderTest> targets, IReadOnlyList<RowRuns> rows)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("kernel", conditions.Kernel);
        json.WriteString("dotnet", conditions.DotNet);
        json.WriteNumber("cpus", conditions.Processors);
        json.WriteString("fio", conditions.FioVersion);
        json.WriteString("file_system", conditions.FileSystem);
        json.WriteNumber("file_bytes", conditions.FileBytes);
        if (conditions.MemoryBytes is { } memory)
        {
            json.WriteNumber("memory_namespace_bytes", memory);
        }
        else
        {
            json.WriteNull("memory_namespace_bytes");
        }

        json.WriteNumber("runtime_s", conditions.RuntimeSeconds);
        json.WriteNumber("ramp_s", conditions.RampSeconds);
        json.WriteNumber("repeats", conditions.Repeats);
        json.WriteNumber("queues", conditions.Queues);

        json.WriteStartArray("targets");
        foreach (var target in targets)
        {
            json.WriteStartObject();
            json.WriteString("label", target.Label);
            json.WriteNumber("pid", target.Process.Pid);
            json.WriteStartArray("arguments");
            foreach (string argument in target.Arguments)
            {
                json.WriteStringValue(argument);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();

        json.WriteStartArray("rows");
        foreach (var row in rows)
        {
            WriteRow(json, row, targets);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteRow(Utf8JsonWriter json, RowRuns row, IReadOnlyList<TargetUnderTest> targets)
    {
        json.WriteStartObject();
        json.WriteString("row", row.Row.Name);
        json.WriteString("backend", row.Row.BackendName);
        json.WriteNumber("namespace", row.Row.NamespaceId);
        json.WriteString("rw", row.Row.Workload.FioRw);
        json.WriteNumber("bs", row.Row.Workload.BlockSize);
        json.WriteNumber("qd", row.Row.Workload.QueueDepth);
        json.WriteString("v0_5_0", row.Row.Seed);

        json.WriteStartArray("runs");
        foreach (var fio in row.Fio)
        {
            json.WriteStartObject();
            json.WriteNumber("round", fio.Round);
            json.WriteString("side", "fio");
            WriteFio(json, fio.Measurement.Iops, fio.Measurement.BytesPerSecond / 1e6, fio.Measurement.P50Micros, fio.Measurement.P99Micros, fio.Measurement.P999Micros, fio.Measurement.CpuMicrosPerIo, fio.Measurement.ContextSwitchesPerIo);
            json.WriteNumber("ios", fio.Measurement.Ios);
            json.WriteNumber("clat_p50_us", fio.Measurement.ClatP50Micros);
            json.WriteNumber("clat_p99_us", fio.Measurement.ClatP99Micros);
            json.WriteEndObject();
        }

        foreach (var run in row.Target)
        {
            json.WriteStartObject();
            json.WriteNumber("round", run.Round);
            json.WriteString("side", run.Target);
            json.WriteNumber("client_cpu_us_per_io", run.Report.ClientCpuMicrosPerIo);
            WriteNullable(json, "target_cpu_us_per_io", run.Report.TargetCpuMicrosPerIo);
            json.WriteNumber("client_ctx_switches_per_io", run.Report.ClientContextSwitchesPerIo);
            WriteNullable(json, "target_ctx_switches_per_io", run.Report.TargetContextSwitchesPerIo);
            json.WritePropertyName("report");
            using (var report = JsonDocument.Parse(run.Report.ToJson()))
            {
                report.RootElement.WriteTo(json);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();

        json.WriteStartObject("medians");
        foreach (var target in targets)
        {
            var side = row.MediansOf(target.Label);
            json.WriteStartObject(target.Label);
            json.WriteNumber("iops", side.Iops);
            json.WriteNumber("mbps", side.MegabytesPerSecond);
            json.WriteNumber("lat_p50_us", side.P50Micros);
            json.WriteNumber("lat_p99_us", side.P99Micros);
            json.WriteNumber("lat_p99_9_us", side.P999Micros);
            json.WriteNumber("client_cpu_us_per_io", side.ClientCpuMicrosPerIo);
            WriteNullable(json, "target_cpu_us_per_io", side.TargetCpuMicrosPerIo);
            json.WriteNumber("client_ctx_switches_per_io", side.ClientSwitchesPerIo);
            WriteNullable(json, "target_ctx_switches_per_io", side.TargetSwitchesPerIo);
            json.WriteEndObject();
        }

        if (row.FioMedians() is { } medians)
        {
            json.WriteStartObject("fio");
            WriteFio(json, medians.Iops, medians.MegabytesPerSecond, medians.P50Micros, medians.P99Micros, medians.P999Micros, medians.CpuMicrosPerIo, medians.SwitchesPerIo);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteFio(Utf8JsonWriter json, double iops, double megabytesPerSecond, double p50, double p99, double p999, double cpu, double switches)
    {
        json.WriteNumber("iops", iops);
        json.WriteNumber("mbps", megabytesPerSecond);
        json.WriteNumber("lat_p50_us", p50);
        json.WriteNumber("lat_p99_us", p99);
        json.WriteNumber("lat_p99_9_us", p999);
        json.WriteNumber("cpu_us_per_io", cpu);
        json.WriteNumber("ctx_switches_per_io", switches);
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, double? value)
    {
        if (value is { } v)
        {
            json.WriteNumber(name, v);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
