using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using NovaStor.BlockEngine;
using NovaStor.BlockEngine.Aio;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.EngineVsFio;

/// <summary>
/// The engine-vs-fio rung: the block engine and fio (io_uring, O_DIRECT) on the same file, row by
/// row, interleaved, medians reported. See perf/README.md.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        RunOptions options;
        try
        {
            options = RunOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(RunOptions.Usage);
            return 2;
        }
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(RunOptions.Usage);
            return 0;
        }

        try
        {
            return Run(options);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            Console.Error.WriteLine($"engine-vs-fio: {e.Message}");
            return 1;
        }
    }

    private static int Run(RunOptions options)
    {
        List<Workload> rows = [.. Workload.Standard.Where(w => options.Only is null || w.Name.Contains(options.Only, StringComparison.OrdinalIgnoreCase))];
        if (rows.Count == 0)
        {
            throw new InvalidOperationException($"No row matches --only '{options.Only}'.");
        }
        if (options.Engine == EngineKind.IoUring && !IoUringFileVolume.IsSupported(out string reason))
        {
            throw new NotSupportedException($"io_uring is not available ({reason}); try --engine fallback.");
        }

        using TestFile file = TestFile.Create(options.Directory, options.SizeBytes, options.Keep);
        var fio = new FioRunner(options.FioPath, file.FilePath, options.SizeBytes, options.FioFixedBuffers);
        string fioVersion = fio.Version();
        Console.WriteLine($"filling {file.FilePath} ({options.SizeBytes >> 20} MiB, {file.FileSystem}) with fio...");
        fio.Fill();
        if (!file.IsFullyAllocated(options.SizeBytes))
        {
            throw new InvalidOperationException($"'{file.FilePath}' is still sparse after the fill; reads would measure holes.");
        }

        using ReactorPool? pool = options.Engine == EngineKind.IoUring
            ? new ReactorPool(new ReactorPoolOptions { Count = options.Reactors, PinThreads = options.PinReactors, RegisteredBufferBytes = options.RegisteredBuffers ? 32L << 20 : 0, SubmitEvery = options.SubmitEvery >= 0 ? options.SubmitEvery : 4, DiskSubmitBatch = options.DiskSubmitBatch })
            : null;
        using AioReactorPool? aio = options.Engine == EngineKind.Aio ? new AioReactorPool(options.Reactors, pinThreads: options.PinReactors) : null;
        using IBlockVolume volume = pool is not null
            ? IoUringFileVolume.OpenOrCreate(file.FilePath, options.SizeBytes, 4096, pool)
            : aio is not null
                ? AioFileVolume.Create(FileVolume.OpenOrCreate(file.FilePath, options.SizeBytes, 4096), aio)
                : FileVolume.OpenOrCreate(file.FilePath, options.SizeBytes, 4096);
        // One lane per reactor, as the target's queues take them.
        EngineLane[] lanes = pool is not null ? [.. Enumerable.Range(0, pool.Count).Select(_ => pool.AcquireLane())]
            : aio is not null ? [.. Enumerable.Range(0, aio.Count).Select(_ => aio.AcquireLane())] : [];
        bool directIo = volume switch
        {
            IoUringFileVolume ring => ring.UsesDirectIo,
            FileVolume positional => positional.UsesDirectIo,
            _ => true, // AioFileVolume exists only over O_DIRECT
        };

        List<RowSamples> samples = rows.ConvertAll(w => new RowSamples(w));
        for (int repeat = 1; repeat <= options.Repeats; repeat++)
        {
            foreach (RowSamples row in samples)
            {
                // Interleaved, engine then fio, so drift (page cache, other load) hits both sides alike.
                using (var load = new EngineLoad(volume, row.Workload, (ulong)repeat, lanes))
                {
                    EngineMeasurement engine = load.Run(options.WarmUp, options.Runtime);
                    row.Add(engine);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[{repeat}/{options.Repeats}] {row.Workload.Name,-18} engine {engine.Iops,10:N0} IOPS  p50 {engine.P50Micros,7:0.0} us  p99 {engine.P99Micros,8:0.0} us"));
                }
                FioMeasurement measured = fio.Measure(row.Workload, options.WarmUp, options.Runtime);
                row.Add(measured);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{repeat}/{options.Repeats}] {row.Workload.Name,-18} fio    {measured.Iops,10:N0} IOPS  p50 {measured.P50Micros,7:0.0} us  p99 {measured.P99Micros,8:0.0} us"));
            }
        }

        var report = new RunReport(
            options.Engine switch
            {
                EngineKind.IoUring => "io_uring (IoUringFileVolume)",
                EngineKind.Aio => "Linux native AIO (AioFileVolume)",
                _ => "fallback (FileVolume, pread/pwrite on the thread pool)",
            },
            pool?.Count ?? aio?.Count ?? 0,
            directIo,
            File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
            fioVersion,
            RuntimeInformation.FrameworkDescription,
            Environment.ProcessorCount,
            file.FileSystem,
            options.SizeBytes,
            options.Runtime.TotalSeconds,
            options.WarmUp.TotalSeconds,
            options.Repeats,
            options.FioFixedBuffers,
            samples.ConvertAll(s => s.ToResult()));
        Console.WriteLine();
        Console.Write(report.ToMarkdown());
        if (options.JsonPath is not null)
        {
            string? directory = Path.GetDirectoryName(Path.GetFullPath(options.JsonPath));
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }
            File.WriteAllText(options.JsonPath, JsonSerializer.Serialize(report, ReportJsonContext.Default.RunReport));
            Console.WriteLine($"results: {options.JsonPath}");
        }
        return 0;
    }
}
