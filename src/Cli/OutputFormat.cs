using System.CommandLine;

namespace NovaStor.Cli;

/// <summary>nvme-cli's -o/--output-format: human text or one JSON document.</summary>
internal static class OutputFormat
{
    public const string Normal = "normal", Json = "json";

    public static Option<string> Create()
    {
        var option = new Option<string>("--output-format", "-o")
        {
            Description = "Output format: normal (text) or json",
            DefaultValueFactory = _ => Normal,
            HelpName = "format",
        };
        option.AcceptOnlyFromAmong(Normal, Json);
        return option;
    }

    public static bool IsJson(ParseResult result, Option<string> option) => result.GetValue(option) == Json;
}
