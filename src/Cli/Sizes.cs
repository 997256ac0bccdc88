using System.CommandLine.Parsing;
using System.Globalization;

namespace NovaStor.Cli;

/// <summary>Byte counts as fio and nvme-cli users type them: 4096, 4k, 1m, 1g (powers of 1024).</summary>
internal static class Sizes
{
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        text = text.Trim();
        if (text.Length == 0)
        {
            return false;
        }

        long multiplier = char.ToLowerInvariant(text[^1]) switch
        {
            'k' => 1L << 10,
            'm' => 1L << 20,
            'g' => 1L << 30,
            't' => 1L << 40,
            _ => 1,
        };
        string digits = multiplier == 1 ? text : text[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            return false;
        }

        try
        {
            bytes = checked(value * multiplier);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>
    /// A System.CommandLine parser for size options: a bad value or one below <paramref name="minimum"/>
    /// is a parse error (usage, nonzero exit). The bound is checked here, not in a validator, because
    /// a validator reading a value whose parse failed throws.
    /// </summary>
    public static Func<ArgumentResult, long> Parser(long minimum) => result =>
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "0";
        if (!TryParse(text, out long bytes))
        {
            result.AddError($"'{text}' is not a size (a number of bytes, optionally with k, m, g or t)");
        }
        else if (bytes < minimum)
        {
            result.AddError($"{bytes} is too small here: at least {minimum}");
        }

        return bytes;
    };

    /// <summary>Comma lists such as nvme-cli's --slbs 0,100,200.</summary>
    public static List<ulong> ParseList(ArgumentResult result)
    {
        var values = new List<ulong>();
        foreach (var token in result.Tokens)
        {
            foreach (string part in token.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value))
                {
                    result.AddError($"'{part}' is not a number (expected a comma-separated list such as 0,100,200)");
                    return values;
                }

                values.Add(value);
            }
        }

        return values;
    }
}
