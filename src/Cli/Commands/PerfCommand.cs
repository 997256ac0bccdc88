using System.CommandLine;
using System.Globalization;
using NovaStor.Load;

namespace NovaStor.Cli.Commands;

/// <summary>
/// perf: a fio-like load from this host through NovaStor.Load's LoadRunner: options named as
/// fio names them, a progress line every second, the report table at the end (also after
/// Ctrl-C), and the report as JSON with --json FILE.
/// </summary>
internal static class PerfCommand
{
    private static readonly Dictionary<string, LoadPattern> Patterns = new(StringComparer.Ordinal)
    {
        ["read"] = LoadPattern.Read,
        ["write"] = LoadPattern.Write,
        ["randread"] = LoadPattern.RandRead,
        ["randwrite"] = LoadPattern.RandWrite,
        ["randrw"] = LoadPattern.RandRw,
    };

    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var pattern = new Option<string>("--rw") { Description = "I/O pattern: read, write, randread, randwrite or randrw", DefaultValueFactory = _ => "randread", HelpName = "pattern" };
        pattern.AcceptOnlyFromAmong([.. Patterns.Keys]);
        var blockSize = new Option<long>("--bs") { Description = "Bytes per I/O (4k, 128k, ...)", DefaultValueFactory = _ => 4096, CustomParser = Sizes.Parser(512), HelpName = "bytes" };
        var depth = new Option<int>("--iodepth") { Description = "I/Os in flight per I/O queue", DefaultValueFactory = _ => 32, CustomParser = Numbers.Parser(1, 1024, "--iodepth"), HelpName = "n" };
        var runtime = new Option<double>("--runtime") { Description = "Seconds measured (after the ramp)", DefaultValueFactory = _ => 10, CustomParser = Numbers.Parser(0.001, 86400.0, "--runtime"), HelpName = "seconds" };
        var ramp = new Option<double>("--ramp") { Description = "Seconds of load before measuring", DefaultValueFactory = _ => 1, CustomParser = Numbers.Parser(0.0, 86400.0, "--ramp"), HelpName = "seconds" };
        var mix = new Option<int>("--rwmixread") { Description = "Percent of reads for randrw", DefaultValueFactory = _ => 70, CustomParser = Numbers.Parser(0, 100, "--rwmixread"), HelpName = "percent" };
        var verify = new Option<bool>("--verify") { Description = "Writes stamp each block, reads check the stamp" };
        var size = new Option<long>("--size") { Description = "Bytes of the namespace to use (1g, ...; 0: to the end)", CustomParser = Sizes.Parser(0), HelpName = "bytes" };
        var offset = new Option<long>("--offset") { Description = "Byte offset where the range starts", CustomParser = Sizes.Parser(0), HelpName = "bytes" };
        var targetPid = new Option<int?>("--target-pid") { Description = "Also report this process's CPU time (the target's, from /proc)", CustomParser = r => Numbers.Parser(1, int.MaxValue, "--target-pid")(r), HelpName = "pid" };
        var json = new Option<string?>("--json") { Description = "Write the report as JSON to this file", HelpName = "file" };

        var command = new Command("perf", "Run a load (fio-like) against a namespace and report IOPS, bandwidth, latency percentiles and CPU");
        fabrics.AddTo(command);
        space.AddNamespace(command);
        foreach (var option in new Option[] { pattern, blockSize, depth, runtime, ramp, mix, verify, size, offset, targetPid, json })
        {
            command.Add(option);
        }


        command.SetAction((result, token) => Failures.GuardAsync(context, "perf", () =>
        {
            var job = new LoadJob
            {
                Pattern = Patterns[result.GetValue(pattern)!],
                BlockSize = (int)Math.Min(result.GetValue(blockSize), int.MaxValue),
                QueueDepth = result.GetValue(depth),
                Queues = result.GetValue(fabrics.IoQueues),
                Runtime = TimeSpan.FromSeconds(result.GetValue(runtime)),
                RampTime = TimeSpan.FromSeconds(result.GetValue(ramp)),
                ReadPercent = result.GetValue(mix),
                Verify = result.GetValue(verify),
                NamespaceId = result.GetValue(space.NamespaceId),
                OffsetBytes = result.GetValue(offset),
                SizeBytes = result.GetValue(size),
                TargetPid = result.GetValue(targetPid),
            };

            // Inline completions and one slot more than the load keeps in flight (the runner's choice).
            return Session.WithControllerAsync(fabrics, result, o => LoadRunner.ConnectionOptionsFor(o, job), async controller =>
            {
                // The controller may grant fewer I/O queues than asked; the load uses what there is.
                var granted = job with { Queues = Math.Min(job.Queues, controller.IoQueueCount) };
                var progress = new ProgressLine(context);
                LoadReport report;
                try
                {
                    // Ctrl-C stops the run early; the runner lets the I/Os in flight finish and still reports.
                    report = await LoadRunner.RunAsync(controller, granted, progress.Report, token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is ArgumentException or KeyNotFoundException)
                {
                    // The runner's refusal of the job (a knob out of range, a range past the namespace, no such namespace).
                    throw new CliUsageException(ex.Message, ex);
                }
                finally
                {
                    progress.Finish();
                }

                await context.Out.WriteAsync(report.ToTable()).ConfigureAwait(false);
                if (result.GetValue(json) is { } path)
                {
                    await File.WriteAllTextAsync(path, report.ToJson() + "\n", CancellationToken.None).ConfigureAwait(false);
                    await context.Out.WriteLineAsync($"perf: report written to {path}").ConfigureAwait(false);
                }

                // I/O errors or verify failures: the measurement is not to be trusted.
                return report.Succeeded ? ExitCodes.Success : ExitCodes.NvmeStatus;
            }, token);
        }, token));
        return command;
    }


    /// <summary>
    /// At most one line a second: rewritten in place with '\r' on a terminal, appended as a new
    /// line otherwise (logs and pipes keep every sample). The runner may call from any thread.
    /// </summary>
    private sealed class ProgressLine(CliContext context)
    {
        private readonly Lock _lock = new();
        private long _lastSecond = -1;
        private int _width;

        public void Report(LoadProgress p)
        {
            lock (_lock)
            {
                long second = (long)p.Elapsed.TotalSeconds;
                if (second == _lastSecond)
                {
                    return;
                }

                _lastSecond = second;
                string phase = p.Measuring ? "run " : "ramp";
                string line = string.Create(CultureInfo.InvariantCulture, $"[{phase} {p.Elapsed.TotalSeconds,6:0.0}s] {p.Ios,12} IOs {p.Iops,12:0} IOPS {p.MegabytesPerSecond,10:0.0} MB/s");
                if (context.IsTerminal)
                {
                    context.Out.Write("\r" + line.PadRight(_width));
                    _width = line.Length;
                }
                else
                {
                    context.Out.WriteLine(line);
                }

                context.Out.Flush();
            }
        }

        public void Finish()
        {
            lock (_lock)
            {
                if (context.IsTerminal && _width > 0)
                {
                    context.Out.WriteLine();
                }
            }
        }
    }
}
