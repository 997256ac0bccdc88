using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace NovaStor.Cli;

/// <summary>
/// Parsers for bounded numeric options. Bounds are checked while parsing, not in validators: a
/// validator that reads a value whose conversion failed throws instead of reporting.
/// </summary>
internal static class Numbers
{
    public static Func<ArgumentResult, T> Parser<T>(T minimum, T maximum, string what)
        where T : struct, INumber<T>
    {
        return result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!T.TryParse(text, NumberStyles.Float & ~NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var value))
            {
                result.AddError($"'{text}' is not a number ({what})");
            }
            else if (value < minimum || value > maximum)
            {
                result.AddError($"{what} must be between {minimum} and {maximum}, not {value}");
            }

            return value;
        };
    }
}
