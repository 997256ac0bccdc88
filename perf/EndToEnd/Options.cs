using NovaStor.EngineVsFio;

namespace NovaStor.EndToEnd;

/// <summary>Command-line options of the end-to-end rung (see Program's usage text).</summary>
internal sealed class Options
{
    public string? Directory { get; private set; }
    public long SizeBytes { get; private set; } = 1024L << 20;
    public TimeSpan Runtime { get; private set; } = TimeSpan.FromSeconds(10);
    public TimeSpan Ramp { get; private set; } = TimeSpan.FromSeconds(2);
    public int Repeats { get; private set; } = 3;
    public string? Only { get; private set; }
    public int Queues { get; private set; } = 1;
    public string? JsonPath { get; private set; }
    public List<string> TargetArguments { get; } = [];

    /// <exception cref="ArgumentException">An unknown option or a bad value.</exception>
    public static Options Parse(IReadOnlyList<string> args)
    {
        var options = new Options();
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    options.SizeBytes = 64L << 20;
                    options.Runtime = TimeSpan.FromSeconds(1);
                    options.Ramp = TimeSpan.FromSeconds(0.5);
                    options.Repeats = 1;
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
                case "--ramp":
                    options.Ramp = TimeSpan.FromSeconds(OptionValues.Number(args, ref i, 0, 600));
                    break;
                case "--repeats":
                    options.Repeats = (int)OptionValues.Number(args, ref i, 1, 100);
                    break;
                case "--only":
                    options.Only = OptionValues.Value(args, ref i);
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
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }

        return options;
    }
}
