using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace NovaStor.EngineVsFio;

/// <summary>What fio reported for one run of a row (its JSON output).</summary>
/// <remarks>
/// P50/P99/P99.9 are fio's total latency (lat_ns: submission plus completion), which is what the engine
/// side measures (Submit to callback); fio's completion-only clat_ns, which leaves out the time
/// fio spends submitting, is kept alongside.
/// </remarks>
public sealed record FioMeasurement(long Ios, double Iops, double BytesPerSecond, double P50Micros, double P99Micros,
    double ClatP50Micros, double ClatP99Micros, double CpuMicrosPerIo, double ContextSwitchesPerIo, double P999Micros);

/// <summary>
/// Runs fio with the io_uring engine and O_DIRECT on the same file the engine uses, with the same
/// block size, queue depth, warm-up and runtime, and reads its JSON output.
/// </summary>
public sealed class FioRunner(string fioPath, string filePath, long sizeBytes, bool fixedBuffers)
{
    /// <summary>fio's own version line ("fio-3.33"), or throws when fio cannot run.</summary>
    public string Version()
    {
        (int exit, string output, string error) = RunProcess(["--version"]);
        if (exit != 0)
        {
            throw new InvalidOperationException($"'{fioPath} --version' failed ({exit}): {error}");
        }
        return output.Trim();
    }

    /// <summary>Writes the whole file once, sequentially with O_DIRECT, so no read lands on a hole.</summary>
    public void Fill()
    {
        string output = Path.Combine(Path.GetTempPath(), $"novastor-fio-fill-{Environment.ProcessId}.json");
        try
        {
            Run(["--name=fill", $"--filename={filePath}", $"--size={sizeBytes}", "--rw=write", "--bs=1M", "--iodepth=8",
                "--ioengine=io_uring", "--direct=1", "--end_fsync=1", "--output-format=json", $"--output={output}"]);
        }
        finally
        {
            File.Delete(output);
        }
    }

    public FioMeasurement Measure(Workload workload, TimeSpan warmUp, TimeSpan runtime)
    {
        ArgumentNullException.ThrowIfNull(workload);
        string output = Path.Combine(Path.GetTempPath(), $"novastor-fio-{Environment.ProcessId}.json");
        List<string> arguments =
        [
            $"--name={workload.FioRw}-{workload.BlockSize}-qd{workload.QueueDepth}",
            $"--filename={filePath}",
            $"--size={sizeBytes}",
            "--ioengine=io_uring",
            "--direct=1",
            $"--bs={workload.BlockSize}",
            $"--iodepth={workload.QueueDepth}",
            $"--rw={workload.FioRw}",
            $"--runtime={Milliseconds(runtime)}ms",
            "--time_based",
            // fio's ramp_time is the engine's warm-up: neither side counts its first moments.
            $"--ramp_time={Milliseconds(warmUp)}ms",
            "--numjobs=1",
            "--group_reporting",
            "--output-format=json",
            $"--output={output}",
            "--randrepeat=0",
            "--norandommap",
            // Percentiles of the total latency too, comparable with the engine's Submit-to-callback time.
            "--lat_percentiles=1",
        ];
        if (fixedBuffers)
        {
            arguments.Add("--fixedbufs");
        }
        try
        {
            Run(arguments);
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(output));
            return Parse(document.RootElement, workload);
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>Reads jobs[0].read or .write: iops, bw_bytes, total_ios, lat_ns and clat_ns percentiles (ns).</summary>
    internal static FioMeasurement Parse(JsonElement root, Workload workload)
    {
        JsonElement job = root.GetProperty("jobs")[0];
        int error = job.GetProperty("error").GetInt32();
        if (error != 0)
        {
            throw new IOException($"fio reported error {error} for {workload.Name}.");
        }
        JsonElement side = job.GetProperty(workload.IsWrite ? "write" : "read");
        JsonElement lat = side.GetProperty("lat_ns").GetProperty("percentile");
        JsonElement clat = side.GetProperty("clat_ns").GetProperty("percentile");
        long ios = Math.Max(side.GetProperty("total_ios").GetInt64(), 1);
        // usr_cpu and sys_cpu are percentages of the job's runtime (ms); ctx counts its context switches.
        double cpuPercent = job.GetProperty("usr_cpu").GetDouble() + job.GetProperty("sys_cpu").GetDouble();
        double cpuMicros = cpuPercent / 100.0 * job.GetProperty("job_runtime").GetDouble() * 1000.0;
        return new FioMeasurement(
            side.GetProperty("total_ios").GetInt64(),
            side.GetProperty("iops").GetDouble(),
            side.GetProperty("bw_bytes").GetDouble(),
            Micros(lat, "50.000000"),
            Micros(lat, "99.000000"),
            Micros(clat, "50.000000"),
            Micros(clat, "99.000000"),
            cpuMicros / ios,
            job.GetProperty("ctx").GetDouble() / ios,
            Micros(lat, "99.900000"));
    }

    private static double Micros(JsonElement percentiles, string key) => percentiles.GetProperty(key).GetDouble() / 1000.0;

    private static string Milliseconds(TimeSpan time) => ((long)time.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);

    private void Run(IReadOnlyList<string> arguments)
    {
        (int exit, _, string error) = RunProcess(arguments);
        if (exit != 0)
        {
            throw new InvalidOperationException($"fio {string.Join(' ', arguments)} exited with {exit}: {error.Trim()}");
        }
    }

    private (int Exit, string Output, string Error) RunProcess(IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(fioPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start '{fioPath}'.");
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.GetAwaiter().GetResult());
    }
}
