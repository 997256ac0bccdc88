using System.Globalization;

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
                    options.Directory = Value(args, ref i);
                    break;
                case "--size-mib":
                    options.SizeBytes = (long)Number(args, ref i, 16, 1 << 20) << 20;
                    break;
                case "--runtime":
                    options.Runtime = TimeSpan.FromSeconds(Number(args, ref i, 0.1, 3600));
                    break;
                case "--ramp":
                    options.Ramp = TimeSpan.FromSeconds(Number(args, ref i, 0, 600));
                    break;
                case "--repeats":
                    options.Repeats = (int)Number(args, ref i, 1, 100);
                    break;
                case "--only":
                    options.Only = Value(args, ref i);
                    break;
                case "--queues":
                    options.Queues = (int)Number(args, ref i, 1, 64);
                    break;
                case "--json":
                    options.JsonPath = Value(args, ref i);
                    break;
                case "--target":
                    options.TargetArguments.Add(Value(args, ref i));
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }

        return options;
    }

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value.");

    private static double Number(IReadOnlyList<string> args, ref int i, double min, double max)
    {
        string name = args[i];
        string text = Value(args, ref i);
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} must be a number from {min} to {max}, not '{text}'.");
    }
}
