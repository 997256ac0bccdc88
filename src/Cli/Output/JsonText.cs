using System.Text.Json;
using System.Text.Json.Nodes;

namespace NovaStor.Cli.Output;

internal static class JsonText
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string Write(JsonNode node) => node.ToJsonString(Indented);
}
