using System.Globalization;

namespace NovaStor.EngineVsFio;

/// <summary>Reads the value after an option (the perf rungs' small command-line parsers share it).</summary>
public static class OptionValues
{
    /// <summary>The argument after <c>args[i]</c>; advances <paramref name="i"/> to it.</summary>
    /// <exception cref="ArgumentException">There is none.</exception>
    public static string Value(IReadOnlyList<string> args, ref int i)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (i + 1 >= args.Count)
        {
            throw new ArgumentException($"{args[i]} needs a value.");
        }
        return args[++i];
    }

    /// <summary>The number after <c>args[i]</c>, within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="ArgumentException">It is missing, not a number, or out of range.</exception>
    public static double Number(IReadOnlyList<string> args, ref int i, double min, double max)
    {
        ArgumentNullException.ThrowIfNull(args);
        string name = args[i];
        string text = Value(args, ref i);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < min || value > max)
        {
            throw new ArgumentException($"{name} must be a number from {min} to {max}, not '{text}'.");
        }
        return value;
    }
}
