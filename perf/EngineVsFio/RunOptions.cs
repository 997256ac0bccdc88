using NovaStor.BlockEngine.Reactors;

namespace NovaStor.EngineVsFio;

/// <summary>Which engine backend the rung drives.</summary>
public enum EngineKind
{
    /// <summary><c>IoUringFileVolume</c> on a <c>ReactorPool</c>.</summary>
    IoUring,
    /// <summary><c>FileVolume</c>: pread/pwrite on the thread pool.</summary>
    Fallback,
    /// <summary><c>AioFileVolume</c> on an <c>AioReactorPool</c> (Linux native AIO).</summary>
    Aio,
}

/// <summary>The command line. <c>--quick</c> sets smoke defaults that later options may still override.</summary>
public sealed class RunOptions
{
    public const string Usage = """
        usage: NovaStor.EngineVsFio [options]
          --engine io_uring|aio|fallback  engine backend (default io_uring; aio: Linux native AIO)
          --reactors N                reactors in the pool (default 1)
          --pin                       pin reactor threads to CPUs
          --dir PATH                  directory for the test file (default: a new directory under /var/tmp)
          --size-mib N                test file size in MiB (default 1024)
          --runtime S                 measured seconds per run (default 5)
          --warmup S                  unmeasured seconds before each run, fio's ramp_time (default 1)
          --repeats N                 interleaved engine/fio runs per row; medians are reported (default 3)
          --only TEXT                 only rows whose name contains TEXT (e.g. "QD1")
          --quick                     CI smoke: runtime 1, warm-up 0.2, 1 repeat, 64 MiB file
          --json PATH                 also write the results as JSON
          --fio PATH                  the fio binary (default fio)
          --fio-fixedbufs             pass --fixedbufs to fio (registered buffers on fio's side)
          --no-registered-buffers     the engine's slot buffers are plain memory (READ/WRITE, not READ_FIXED/WRITE_FIXED)
          --submit-every N            the reactor flushes its submissions after every N completions (0: once per reap)
          --disk-batch N              disk requests the reactor prepares before submitting them (default 1: each at once; 0: once per pass)
          --keep                      keep the test file
        """;

    public EngineKind Engine { get; private set; } = EngineKind.IoUring;
    public int Reactors { get; private set; } = 1;
    public bool PinReactors { get; private set; }
    public string? Directory { get; private set; }
    public long SizeBytes { get; private set; } = 1024L << 20;
    public TimeSpan Runtime { get; private set; } = TimeSpan.FromSeconds(5);
    public TimeSpan WarmUp { get; private set; } = TimeSpan.FromSeconds(1);
    public int Repeats { get; private set; } = 3;
    public string? Only { get; private set; }
    public string? JsonPath { get; private set; }
    public string FioPath { get; private set; } = "fio";
    public bool FioFixedBuffers { get; private set; }
    public bool Keep { get; private set; }
    public bool RegisteredBuffers { get; private set; } = true;
    public int SubmitEvery { get; private set; } = -1;
    public int DiskSubmitBatch { get; private set; } = ReactorPoolOptions.DefaultDiskSubmitBatch;

    /// <exception cref="ArgumentException">An unknown option or a bad value.</exception>
    public static RunOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new RunOptions();
        if (args.Contains("--quick"))
        {
            options.Runtime = TimeSpan.FromSeconds(1);
            options.WarmUp = TimeSpan.FromSeconds(0.2);
            options.Repeats = 1;
            options.SizeBytes = 64L << 20;
        }
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            switch (name)
            {
                case "--quick":
                    break;
                case "--pin":
                    options.PinReactors = true;
                    break;
                case "--fio-fixedbufs":
                    options.FioFixedBuffers = true;
                    break;
                case "--keep":
                    options.Keep = true;
                    break;
                case "--no-registered-buffers":
                    options.RegisteredBuffers = false;
                    break;
                case "--submit-every":
                    options.SubmitEvery = (int)OptionValues.Number(args, ref i, 0, 1024);
                    break;
                case "--disk-batch":
                    options.DiskSubmitBatch = (int)OptionValues.Number(args, ref i, 0, 256);
                    break;
                case "--engine":
                    options.Engine = OptionValues.Value(args, ref i) switch
                    {
                        "io_uring" or "iouring" => EngineKind.IoUring,
                        "aio" => EngineKind.Aio,
                        "fallback" => EngineKind.Fallback,
                        string other => throw new ArgumentException($"--engine must be io_uring, aio or fallback, not '{other}'."),
                    };
                    break;
                case "--reactors":
                    options.Reactors = (int)OptionValues.Number(args, ref i, 1, 64);
                    break;
                case "--dir":
                    options.Directory = OptionValues.Value(args, ref i);
                    break;
                case "--size-mib":
                    options.SizeBytes = (long)OptionValues.Number(args, ref i, 16, 1 << 20) << 20;
                    break;
                case "--runtime":
                    options.Runtime = TimeSpan.FromSeconds(OptionValues.Number(args, ref i, 0.1, 3600));
                    break;
                case "--warmup":
                    options.WarmUp = TimeSpan.FromSeconds(OptionValues.Number(args, ref i, 0, 600));
                    break;
                case "--repeats":
                    options.Repeats = (int)OptionValues.Number(args, ref i, 1, 100);
                    break;
                case "--only":
                    options.Only = OptionValues.Value(args, ref i);
                    break;
                case "--json":
                    options.JsonPath = OptionValues.Value(args, ref i);
                    break;
                case "--fio":
                    options.FioPath = OptionValues.Value(args, ref i);
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{name}'.");
            }
        }
        return options;
    }
}
