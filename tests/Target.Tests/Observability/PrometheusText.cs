using System.Globalization;
using Xunit;

namespace NovaStor.Target.Tests.Observability;

/// <summary>Reads samples out of a Prometheus text exposition (enough for these tests).</summary>
internal static class PrometheusText
{
    /// <summary>The value of the one sample named <paramref name="name"/> that has all these labels.</summary>
    public static double Value(string text, string name, params (string Name, string Value)[] labels)
    {
        var matches = Samples(text, name, labels).ToList();
        Assert.True(matches.Count == 1, $"expected one {name} sample with {string.Join(',', labels)}, found {matches.Count} in:\n{text}");
        return matches[0];
    }

    public static IEnumerable<double> Samples(string text, string name, params (string Name, string Value)[] labels)
    {
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !(line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal)))
            {
                continue;
            }

            int end = line.LastIndexOf('}');
            string labelText = end < 0 ? "" : line[(name.Length + 1)..end];
            if (labels.All(label => labelText.Contains($"{label.Name}=\"{label.Value}\"", StringComparison.Ordinal)))
            {
                yield return double.Parse(line[(line.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }
    }
}
