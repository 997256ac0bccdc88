using System.Globalization;
using System.Text.Json;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>perf through the real NovaStor.Load runner, short runs on a small range of the namespace.</summary>
public sealed class PerfCommandTests(CliTarget shared) : IClassFixture<CliTarget>
{
    [Fact]
    public async Task A_short_verified_run_prints_progress_and_the_table_and_writes_json()
    {
        using var dir = new TempDir();
        var run = await shared.RunAsync("perf", "--rw", "randrw", "--bs", "4k", "--iodepth", "4", "-i", "2", "--runtime", "2", "--ramp", "0",
            "--rwmixread", "50", "--verify", "--size", "16m", "--offset", "256m", "--target-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), "--json", dir.File("report.json"));
        Harness.Succeeded(run);
        // Not a terminal: one progress line per second, each on its own line.
        Assert.Contains("[run ", run.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", run.Out, StringComparison.Ordinal);
        Assert.Contains("randrw bs=4096 iodepth=4 queues=2", run.Out, StringComparison.Ordinal);
        Assert.Contains("| IOPS | MB/s |", run.Out, StringComparison.Ordinal);

        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(dir.File("report.json")));
        var root = doc.RootElement;
        Assert.Equal("randrw", root.GetProperty("rw").GetString());
        Assert.True(root.GetProperty("ios").GetInt64() > 0);
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.Equal(0, root.GetProperty("verify_failures").GetInt64());
        Assert.True(root.GetProperty("verified_blocks").GetInt64() > 0);
        Assert.Equal(JsonValueKind.Number, root.GetProperty("target_cpu_s").ValueKind);
    }

    [Fact]
    public async Task Interrupting_a_run_still_prints_the_report()
    {
        using var interrupt = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int code = await Cli.RunAsync(["perf", .. shared.Fabrics, "--rw", "randread", "--iodepth", "2", "--runtime", "60", "--ramp", "0", "--size", "8m"], output, error, interrupt.Token)
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(code == 0, $"exit {code}\n{output}\n{error}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        Assert.Contains("| IOPS | MB/s |", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_the_runner_refuses_is_one_line()
    {
        // The parser accepts any offset; the runner refuses a range that starts past the 1 GiB namespace.
        var run = await shared.RunAsync("perf", "--runtime", "1", "--offset", "2g");
        Assert.Equal(ExitCodes.NvmeStatus, run.ExitCode);
        Assert.StartsWith("perf: ", run.Error, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }

    [Fact]
    public async Task Perf_options_are_in_help()
    {
        var run = await Harness.RunAsync("perf", "--help");
        Harness.Succeeded(run);
        foreach (string option in new[] { "--rw", "--bs", "--iodepth", "--nr-io-queues", "--runtime", "--ramp", "--rwmixread", "--verify", "--namespace-id", "--size", "--offset", "--target-pid", "--json", "--hdr-digest", "--data-digest" })
        {
            Assert.Contains(option, run.Out, StringComparison.Ordinal);
        }
    }
}
