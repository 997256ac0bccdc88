using NovaStor.EngineVsFio;

namespace NovaStor.EndToEnd;

/// <summary>Command-line options of the end-to-end rung. <c>--quick</c> sets smoke defaults that later options may still override.</summary>
internal sealed class Options
{
    public const string Usage = """
        usage: perf/end-to-end.sh [options]
          --dir PATH              where the test file goes (default: a new directory under /var/tmp; tmpfs refused)
          --size-mib N            test file size (default 1024)
          --memory-mib N          size of the target's Memory and Null namespaces (default 1024)
          --runtime S             seconds measured per run (default 10)
          --ramp S                seconds of load before measuring (default 2)
          --repeats N             interleaved rounds; medians reported (default 3)
          --only TEXT             rows whose name contains TEXT ("memory", "file", "QD1", "file 4K randread")
          --no-file               skip the file rows (and fio, and the test file)
          --no-memory             skip the memory and null rows
          --queues N              I/O queues of the initiator; QD per queue = the row's QD / N (default 1)
          --quick                 smoke: 64 MiB file and memory namespace, 1 s runs, 0.25 s ramp, 1 round
          --json PATH             write every run of every row (both sides, all rounds) and the medians as JSON
          --target ARG            one more argument for the target (repeatable), e.g. --target --NovaStor:Reactors=2
          --compare-target "ARGS" a second target (B), started with the --target arguments and then these
                                  (split on spaces), runs every row too, interleaved with the first (A)
          --compare-target-dll PATH  B is this build of the target (NovaStor.Target.dll of another checkout,
                                  e.g. the commit before a change) instead of this one; implies --compare-target ""
        """;

    public string? Directory { get; private set; }
    public long SizeBytes { get; private set; } = 1024L << 20;
    public long MemoryBytes { get; private set; } = 1024L << 20;
    public TimeSpan Runtime { get; private set; } = TimeSpan.FromSeconds(10);
    public TimeSpan Ramp { get; private set; } = TimeSpan.FromSeconds(2);
    public int Repeats { get; private set; } = 3;
    public string? Only { get; private set; }
    public bool FileRows { get; private set; } = true;
    public bool MemoryRows { get; private set; } = true;
    public int Queues { get; private set; } = 1;
    public string? JsonPath { get; private set; }
    public bool Help { get; private set; }
    public List<string> TargetArguments { get; } = [];

    /// <summary>Another build of the target for B (a before/after comparison), or null for this checkout's.</summary>
    public string? CompareTargetDll { get; private set; }

    /// <summary>The second target's own arguments (after <see cref="TargetArguments"/>); null: no second target.</summary>
    public List<string>? CompareArguments { get; private set; }

    /// <exception cref="ArgumentException">An unknown option or a bad value.</exception>
    public static Options Parse(IReadOnlyList<string> args)
    {
        var options = new Options();
        if (args.Contains("--quick"))
        {
            options.SizeBytes = 64L << 20;
            options.MemoryBytes = 64L << 20;
            options.Runtime = TimeSpan.FromSeconds(1);
            options.Ramp = TimeSpan.FromSeconds(0.25);
            options.Repeats = 1;
        }

        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    break;
                case "--help" or "-h":
                    options.Help = true;
                    break;
                case "--dir":
                    options.Directory = OptionValues.Value(args, ref i);
                    break;
                case "--size-mib":
                    options.SizeBytes = (long)OptionValues.Number(args, ref i, 16, 1 << 20) << 20;
                    break;
                case "--memory-mib":
                    options.MemoryBytes = (long)OptionValues.Number(args, ref i, 16, 1 << 20) << 20;
                    break;
                case "--runtime":
                    options.Runtime = TimeSpan.FromSeconds(OptionValues.Number(args, ref i, 0.1, 3600));
                    break;
                case "--ramp":
                    options.Ramp = TimeSpan.FromSeconds(OptionValues.Number(args, ref i, 0, 600));
                    break;
                case "--repeats":
                    options.Repeats = (int)OptionValues.Number(args, ref i, 1, 100);
                    break;
                case "--only":
                    options.Only = OptionValues.Value(args, ref i);
                    break;
                case "--no-file":
                    options.FileRows = false;
                    break;
                case "--no-memory":
                    options.MemoryRows = false;
                    break;
                case "--queues":
                    options.Queues = (int)OptionValues.Number(args, ref i, 1, 64);
                    break;
                case "--json":
                    options.JsonPath = OptionValues.Value(args, ref i);
                    break;
                case "--target":
                    options.TargetArguments.Add(OptionValues.Value(args, ref i));
                    break;
                case "--compare-target-dll":
                    options.CompareTargetDll = Path.GetFullPath(OptionValues.Value(args, ref i));
                    options.CompareArguments ??= [];
                    break;
                case "--compare-target":
                    options.CompareArguments = [.. OptionValues.Value(args, ref i).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }

        if (!options.FileRows && !options.MemoryRows)
        {
            throw new ArgumentException("--no-file and --no-memory together leave no row to run.");
        }

        return options;
    }
}
