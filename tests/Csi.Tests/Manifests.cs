using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace NovaStor.Csi.Tests;

/// <summary>
/// The Kubernetes manifests of deploy/ read as plain trees (maps, lists, strings), with small
/// accessors for what the tests check; and the Helm chart's templates rendered for its default
/// values.
/// </summary>
internal static partial class Manifests
{
    public static string Root { get; } = FindRoot();

    public static string Deploy => Path.Combine(Root, "deploy");

    public static string Chart => Path.Combine(Deploy, "helm", "novastor");

    /// <summary>Every document of the YAML files in <paramref name="folder"/> (not below it), with its file.</summary>
    public static IReadOnlyList<(string File, Dictionary<object, object> Document)> Read(string folder) =>
        [.. Directory.GetFiles(folder, "*.yaml").Order(StringComparer.Ordinal).SelectMany(file => Parse(File.ReadAllText(file)).Select(document => (Path.GetRelativePath(Root, file), document)))];

    public static IEnumerable<Dictionary<object, object>> Parse(string yaml)
    {
        var parser = new YamlDotNet.Core.Parser(new StringReader(yaml));
        var deserializer = new DeserializerBuilder().Build();
        parser.Consume<YamlDotNet.Core.Events.StreamStart>();
        while (parser.Accept<YamlDotNet.Core.Events.DocumentStart>(out _))
        {
            if (deserializer.Deserialize(parser) is Dictionary<object, object> document)
            {
                yield return document;
            }
        }
    }

    /// <summary>
    /// The chart's templates for its default values: each <c>{{ .Values.a.b }}</c> and
    /// <c>{{ .Release.Namespace }}</c> replaced. The templates use no other template action (this
    /// renderer would not know it), and that is checked: any other <c>{{</c> fails.
    /// </summary>
    public static IReadOnlyList<(string File, Dictionary<object, object> Document)> RenderChart(string releaseNamespace)
    {
        var values = Parse(File.ReadAllText(Path.Combine(Chart, "values.yaml"))).Single();
        var rendered = new List<(string, Dictionary<object, object>)>();
        foreach (string file in Directory.GetFiles(Path.Combine(Chart, "templates"), "*.yaml").Order(StringComparer.Ordinal))
        {
            string text = Action().Replace(File.ReadAllText(file), match => match.Groups["path"].Value switch
            {
                ".Release.Namespace" => releaseNamespace,
                string path when path.StartsWith(".Values.", StringComparison.Ordinal) => Scalar(values, path[".Values.".Length..].Split('.')),
                string other => throw new InvalidOperationException($"{file}: the template action {{{{ {other} }}}} is not one this check renders"),
            });
            if (text.Contains("{{", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"{file}: a template action other than {{{{ .Values.x }}}} / {{{{ .Release.Namespace }}}} remains");
            }

            rendered.AddRange(Parse(text).Select(document => (Path.GetRelativePath(Root, file), document)));
        }

        return rendered;
    }

    private static string Scalar(Dictionary<object, object> values, string[] path)
    {
        object node = values;
        foreach (string key in path)
        {
            node = node is Dictionary<object, object> map && map.TryGetValue(key, out var next)
                ? next
                : throw new InvalidOperationException($"values.yaml has no {string.Join('.', path)}");
        }

        return node as string ?? throw new InvalidOperationException($"values.yaml's {string.Join('.', path)} is not a scalar");
    }

    [GeneratedRegex(@"\{\{\s*(?<path>[.A-Za-z0-9_]+)\s*\}\}")]
    private static partial Regex Action();

    public static string Kind(this Dictionary<object, object> document) => document.Text("kind");

    public static string Name(this Dictionary<object, object> document) => document.Map("metadata").Text("name");

    public static string? Namespace(this Dictionary<object, object> document) =>
        document.Map("metadata").TryGetValue("namespace", out var ns) ? (string)ns : null;

    public static Dictionary<object, object> Map(this Dictionary<object, object> map, string key) =>
        map.TryGetValue(key, out var value) && value is Dictionary<object, object> child ? child : throw new KeyNotFoundException($"no map '{key}'");

    public static List<object> List(this Dictionary<object, object> map, string key) =>
        map.TryGetValue(key, out var value) && value is List<object> list ? list : [];

    public static IEnumerable<Dictionary<object, object>> Maps(this Dictionary<object, object> map, string key) => map.List(key).Cast<Dictionary<object, object>>();

    public static string Text(this Dictionary<object, object> map, string key) =>
        map.TryGetValue(key, out var value) && value is string text ? text : throw new KeyNotFoundException($"no text '{key}'");

    public static string? TextOrNull(this Dictionary<object, object> map, string key) => map.TryGetValue(key, out var value) ? value as string : null;

    /// <summary>A workload's pod spec (Deployment, DaemonSet).</summary>
    public static Dictionary<object, object> PodSpec(this Dictionary<object, object> workload) => workload.Map("spec").Map("template").Map("spec");

    public static IEnumerable<Dictionary<object, object>> Containers(this Dictionary<object, object> workload) => workload.PodSpec().Maps("containers");

    public static IReadOnlyList<string> Args(this Dictionary<object, object> container) => [.. container.List("args").Cast<string>()];

    /// <summary>The value of <c>--name=value</c> among the container's arguments.</summary>
    public static string Arg(this Dictionary<object, object> container, string name) =>
        container.Args().SingleOrDefault(a => a.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..]
            ?? throw new KeyNotFoundException($"container {container.Text("name")} has no {name}=");

    public static string Env(this Dictionary<object, object> container, string name) =>
        container.Maps("env").Single(e => e.Text("name") == name).Text("value");

    /// <summary>Where the container mounts the pod volume <paramref name="volume"/>.</summary>
    public static Dictionary<object, object> Mount(this Dictionary<object, object> container, string volume) =>
        container.Maps("volumeMounts").SingleOrDefault(m => m.Text("name") == volume)
            ?? throw new KeyNotFoundException($"container {container.Text("name")} does not mount {volume}");

    /// <summary>The mount of the folder <paramref name="path"/> (exactly), or null.</summary>
    public static Dictionary<object, object>? MountAt(this Dictionary<object, object> container, string path) =>
        container.Maps("volumeMounts").SingleOrDefault(m => m.Text("mountPath") == path);

    public static Dictionary<object, object> Volume(this Dictionary<object, object> workload, string name) =>
        workload.PodSpec().Maps("volumes").Single(v => v.Text("name") == name);

    public static int Port(this Dictionary<object, object> container, string name) =>
        int.Parse(container.Maps("ports").Single(p => p.Text("name") == name).Text("containerPort"), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A tree as one canonical string (maps by sorted key), to compare documents.</summary>
    public static string Canonical(object? node) => node switch
    {
        Dictionary<object, object> map => "{" + string.Join(",", map.OrderBy(p => (string)p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}:{Canonical(p.Value)}")) + "}",
        List<object> list => "[" + string.Join(",", list.Select(Canonical)) + "]",
        null => "null",
        _ => "'" + node + "'",
    };

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NovaStor.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"NovaStor.sln not found above {AppContext.BaseDirectory}");
    }
}
