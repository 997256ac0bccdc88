using System.Globalization;
using NovaStor.EngineVsFio;
using NovaStor.Initiator;
using NovaStor.Load;

namespace NovaStor.EndToEnd;

/// <summary>
/// The end-to-end rung: the NovaStor target as its own process, the managed initiator's load
/// generator as the client, row by row on a file namespace (beside fio on the same file) and on a
/// memory namespace (the transport without a disk), against one target or two (A and B),
/// interleaved over rounds, medians reported with CPU and context switches per I/O of both sides.
/// See perf/README.md.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Options.Usage);
            return 2;
        }

        if (options.Help)
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }

        try
        {
            return await RunAsync(options).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or NvmeTransportException or ControllerLostException or KeyNotFoundException)
        {
            Console.Error.WriteLine($"end-to-end: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> RunAsync(Options options)
    {
        List<RungRow> selected = [.. RungRow.All.Where(r =>
            (r.Backend == RowBackend.File ? options.FileRows : options.MemoryRows)
            && (options.Only is null || r.Name.Contains(options.Only, StringComparison.OrdinalIgnoreCase)))];
        if (selected.Count == 0)
        {
            throw new InvalidOperationException($"No row matches --only '{options.Only}'{(options.FileRows ? "" : " without the file rows")}{(options.MemoryRows ? "" : " without the memory rows")}.");
        }

        bool fileRows = selected.Any(r => r.Backend == RowBackend.File);
        // The memory and null namespaces cost no disk; both are served whenever either kind of row runs.
        bool memoryRows = selected.Any(r => r.Backend != RowBackend.File);

        // The test file and fio only when a file row runs: memory rows need no disk.
        using TestFile? file = fileRows ? TestFile.Create(options.Directory, options.SizeBytes, keep: false) : null;
        FioRunner? fio = null;
        string? fioVersion = null;
        if (file is not null)
        {
            fio = new FioRunner("fio", file.FilePath, options.SizeBytes, fixedBuffers: false);
            fioVersion = fio.Version();
            Console.WriteLine($"filling {file.FilePath} ({options.SizeBytes >> 20} MiB, {file.FileSystem}) with fio...");
            fio.Fill();
        }

        string targetDll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Target", "bin", "Release", "net10.0", "NovaStor.Target.dll"));
        var namespaces = TargetProcess.NamespaceArguments(file?.FilePath, options.SizeBytes, memoryRows ? options.MemoryBytes : null);
        var targets = new List<TargetUnderTest>();
        try
        {
            targets.Add(await TargetUnderTest.StartAsync("A", targetDll, namespaces, options.TargetArguments, memoryRows, options.Queues).ConfigureAwait(false));
            if (options.CompareArguments is { } compare)
            {
                // Both targets serve the same file (neither locks it); only one is loaded at a time.
                targets.Add(await TargetUnderTest.StartAsync("B", options.CompareTargetDll ?? targetDll, namespaces, [.. options.TargetArguments, .. compare], memoryRows, options.Queues).ConfigureAwait(false));
            }

            foreach (var target in targets)
            {
                Console.WriteLine($"{target.Description}: pid {target.Process.Pid} on 127.0.0.1:{target.Process.Port}, {target.Controller.IoQueueCount} I/O queue(s), MDTS {target.Controller.MaxTransferBytes} bytes");
            }

            var rows = selected.ConvertAll(r => new RowRuns(r));
            for (int round = 1; round <= options.Repeats; round++)
            {
                // Targets alternate who goes first each round, so neither always runs right after fio.
                List<TargetUnderTest> order = round % 2 == 1 ? targets : [.. Enumerable.Reverse(targets)];
                foreach (var row in rows)
                {
                    if (row.Row.Backend == RowBackend.File)
                    {
                        // The raw file first, then the same job through the target(s): drift hits all alike.
                        var raw = fio!.Measure(row.Row.Workload, options.Ramp, options.Runtime);
                        row.Fio.Add(new FioRun(round, raw));
                        Progress(options, round, row.Row, "fio", raw.Iops, raw.P50Micros, raw.CpuMicrosPerIo);
                    }

                    foreach (var target in order)
                    {
                        var job = row.Row.ToJob(options.Queues, options.Ramp, options.Runtime, target.Process.Pid);
                        var report = await LoadRunner.RunAsync(target.Controller, job).ConfigureAwait(false);
                        if (!report.Succeeded)
                        {
                            throw new InvalidOperationException($"{row.Row.Name}: {report.Errors} I/O errors through target {target.Label}; first: {report.FirstError}");
                        }

                        row.Target.Add(new TargetRun(round, target.Label, report));
                        Progress(options, round, row.Row, target.Label, report.Iops, report.P50Micros, report.TargetCpuMicrosPerIo);
                    }
                }
            }

            var conditions = RunConditions.Of(options, fioVersion, file?.FileSystem);
            Console.WriteLine();
            Console.Write(RungTables.ToMarkdown(conditions, targets, rows));
            if (options.JsonPath is not null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.JsonPath))!);
                await using (var stream = File.Create(options.JsonPath))
                {
                    RungJson.Write(stream, conditions, targets, rows);
                }

                Console.WriteLine($"results: {options.JsonPath}");
            }
        }
        finally
        {
            foreach (var target in targets)
            {
                await target.DisposeAsync().ConfigureAwait(false);
            }
        }

        return 0;
    }

    private static void Progress(Options options, int round, RungRow row, string side, double iops, double p50Micros, double? cpuMicrosPerIo) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{round}/{options.Repeats}] {row.Name,-26} {side,-3} {iops,10:N0} IOPS  p50 {p50Micros,8:0.0} us  {(side == "fio" ? "fio" : "target")} CPU {(cpuMicrosPerIo is { } cpu ? cpu.ToString("0.0", CultureInfo.InvariantCulture) : "-"),6} us/IO"));
}
