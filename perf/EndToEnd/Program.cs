using System.Globalization;
using System.Text;
using NovaStor.EngineVsFio;
using NovaStor.Initiator;
using NovaStor.Load;

namespace NovaStor.EndToEnd;

/// <summary>
/// The end-to-end rung: fio (io_uring, O_DIRECT) on a file, then the NovaStor target serving that
/// same file over NVMe/TCP on loopback with the managed initiator's load generator as the client,
/// row by row, interleaved over repeats, medians reported beside the v0.5.0 seed's figures.
/// See perf/README.md.
/// </summary>
public static class Program
{
    private const string Usage = """
        usage: perf/end-to-end.sh [options]
          --dir PATH          where the test file goes (default: a new directory under /var/tmp; tmpfs refused)
          --size-mib N        test file size (default 1024)
          --runtime S         seconds measured per run (default 10)
          --ramp S            seconds of load before measuring (default 2)
          --repeats N         interleaved rounds; medians reported (default 3)
          --only TEXT         rows whose name contains TEXT
          --queues N          I/O queues of the initiator; QD per queue = the row's QD / N (default 1)
          --quick             smoke: 64 MiB, 1 s runs, 0.5 s ramp, 1 round
          --json PATH         write every row as JSON
          --target ARG        one more argument for the target (repeatable), e.g. --target --NovaStor:Reactors=2
        """;

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
            Console.Error.WriteLine(Usage);
            return 2;
        }

        try
        {
            return await RunAsync(options).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or NvmeTransportException or ControllerLostException)
        {
            Console.Error.WriteLine($"end-to-end: {e.Message}");
            return 1;
        }
    }

    private static async Task<int> RunAsync(Options options)
    {
        List<Workload> rows = [.. Workload.Standard.Where(w => options.Only is null || w.Name.Contains(options.Only, StringComparison.OrdinalIgnoreCase))];
        if (rows.Count == 0)
        {
            throw new InvalidOperationException($"No row matches --only '{options.Only}'.");
        }

        using TestFile file = TestFile.Create(options.Directory, options.SizeBytes, keep: false);
        var fio = new FioRunner("fio", file.FilePath, options.SizeBytes, fixedBuffers: false);
        string fioVersion = fio.Version();
        Console.WriteLine($"filling {file.FilePath} ({options.SizeBytes >> 20} MiB, {file.FileSystem}) with fio...");
        fio.Fill();

        string targetDll = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "Target", "bin", "Release", "net10.0", "NovaStor.Target.dll");
        using var target = TargetProcess.Start(Path.GetFullPath(targetDll), file.FilePath, options.SizeBytes, 4096, options.TargetArguments);
        var connection = new NvmeConnectionOptions { IoQueues = options.Queues, QueueDepth = 128 };
        await using var controller = await NvmeController.ConnectAsync(target.EndPoint, TargetProcess.Nqn, connection).ConfigureAwait(false);
        Console.WriteLine($"target pid {target.Pid} on 127.0.0.1:{target.Port}, {controller.IoQueueCount} I/O queue(s), MDTS {controller.MaxTransferBytes} bytes");

        var results = rows.ToDictionary(r => r, _ => (Target: new List<LoadReport>(), Fio: new List<FioMeasurement>()));
        for (int round = 1; round <= options.Repeats; round++)
        {
            foreach (var row in rows)
            {
                // The raw file first, then the same job through the target: drift hits both alike.
                var raw = fio.Measure(row, options.Ramp, options.Runtime);
                results[row].Fio.Add(raw);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{round}/{options.Repeats}] {row.Name,-18} fio raw file  {raw.Iops,10:N0} IOPS  p50 {raw.P50Micros,7:0.0} us"));
                var job = new LoadJob
                {
                    Pattern = row.Pattern switch
                    {
                        AccessPattern.RandWrite => LoadPattern.RandWrite,
                        AccessPattern.RandRead => LoadPattern.RandRead,
                        AccessPattern.Write => LoadPattern.Write,
                        _ => LoadPattern.Read,
                    },
                    BlockSize = row.BlockSize,
                    QueueDepth = Math.Max(1, row.QueueDepth / options.Queues),
                    Queues = row.QueueDepth >= options.Queues ? options.Queues : 1,
                    Runtime = options.Runtime,
                    RampTime = options.Ramp,
                    TargetPid = target.Pid,
                };
                var report = await LoadRunner.RunAsync(controller, job).ConfigureAwait(false);
                if (!report.Succeeded)
                {
                    throw new InvalidOperationException($"{row.Name}: {report.Errors} I/O errors through the target; first: {report.FirstError}");
                }

                results[row].Target.Add(report);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{round}/{options.Repeats}] {row.Name,-18} NovaStor      {report.Iops,10:N0} IOPS  p50 {report.P50Micros,7:0.0} us"));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"target: NovaStor over NVMe/TCP on loopback (managed initiator, {controller.IoQueueCount} queue(s)); raw: fio {fioVersion}, io_uring, O_DIRECT, same file");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"file: {options.SizeBytes >> 20} MiB on {file.FileSystem}; {options.Runtime.TotalSeconds:0.#} s per run after {options.Ramp.TotalSeconds:0.#} s ramp; medians of {options.Repeats} round(s); {Environment.ProcessorCount} CPUs shared by client and target"));
        Console.WriteLine();
        var table = new StringBuilder();
        table.AppendLine("| row | NovaStor IOPS | raw file IOPS | ratio | NovaStor MB/s | raw MB/s | NovaStor p50/p99/p99.9 us | raw p50/p99 us | CPU us/IO client/target | v0.5.0 seed |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var row in rows)
        {
            var (reports, raws) = results[row];
            double iops = Median(reports.Select(r => r.Iops));
            double rawIops = Median(raws.Select(r => r.Iops));
            table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {row.Name} | {iops:N0} | {rawIops:N0} | {iops / rawIops * 100:0} % | {Median(reports.Select(r => r.MegabytesPerSecond)):N0} | {Median(raws.Select(r => r.BytesPerSecond / 1e6)):N0} | {Median(reports.Select(r => r.P50Micros)):0.0}/{Median(reports.Select(r => r.P99Micros)):0}/{Median(reports.Select(r => r.P999Micros)):0} | {Median(raws.Select(r => r.P50Micros)):0.0}/{Median(raws.Select(r => r.P99Micros)):0} | {Median(reports.Select(r => r.ClientCpuMicrosPerIo)):0.0}/{Median(reports.Select(r => r.TargetCpuMicrosPerIo ?? 0)):0.0} | {Seed(row)} |"));
        }

        Console.Write(table.ToString());
        if (options.JsonPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.JsonPath))!);
            var json = new StringBuilder("[\n");
            foreach (var row in rows)
            {
                foreach (var report in results[row].Target)
                {
                    json.Append(report.ToJson()).Append(",\n");
                }
            }

            await File.WriteAllTextAsync(options.JsonPath, json.ToString().TrimEnd(',', '\n') + "\n]\n").ConfigureAwait(false);
            Console.WriteLine($"results: {options.JsonPath}");
        }

        await controller.DisconnectAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>What NovaStor v0.5.0 (Rust + SPDK) claimed for the same row.</summary>
    private static string Seed(Workload row) => row.Name switch
    {
        "4K randwrite QD32" => "60,652 IOPS",
        "4K randread QD32" => "66,338 IOPS",
        "4K randwrite QD1" => "10,743 IOPS, 91 us",
        "128K write QD8" => "740 MB/s",
        "128K read QD8" => "846 MB/s",
        _ => "-",
    };

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
