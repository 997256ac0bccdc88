using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using NovaStor.BlockEngine.Volumes;
using NovaStor.Protocol;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Authentication;

namespace NovaStor.Target.Hosting;

/// <summary>
/// What the control plane created, kept in <c>exports.json</c> beside the volume catalog in the
/// data directory: subsystems (hosts, namespaces), listeners, and the ANA states set on any
/// listener. Every change replaces the file atomically and durably (<see cref="DurableFile"/>)
/// before it takes effect, so a process killed at any point restarts with the change whole or
/// absent. The volumes themselves are the catalog's; a namespace naming a volume the catalog no
/// longer has (a delete killed between its two files) is dropped at start-up and logged.
/// </summary>
internal sealed class ExportsStore
{
    public const string FileName = "exports.json";
    public const int CurrentVersion = 1;

    private readonly string _path;
    private readonly Lock _lock = new();

    private ExportsStore(string path, ExportsDocument document)
    {
        _path = path;
        Current = document;
    }

    /// <summary>The stored state (an empty one when there is no file yet).</summary>
    public ExportsDocument Current { get; private set; }

    public string FilePath => _path;

    /// <summary>Reads the file; one that does not parse or validate stops start-up, naming the file and the problem.</summary>
    public static ExportsStore Open(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        string path = Path.Combine(Path.GetFullPath(dataDirectory), FileName);
        DurableFile.RemoveLeftover(path);
        if (!File.Exists(path))
        {
            return new ExportsStore(path, ExportsDocument.Empty);
        }

        ExportsDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(File.ReadAllBytes(path), ExportsJsonContext.Default.ExportsDocument);
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"{path} is not a valid exports file ({e.Message}); restore it from a backup, or move it away to start without the exports it held.", e);
        }

        if (document is null || Problem(document) is { } problem)
        {
            throw new InvalidOperationException($"{path} cannot be trusted: {(document is null ? "it is empty (null)" : Problem(document))}; restore it from a backup, or move it away to start without the exports it held.");
        }

        return new ExportsStore(path, document);
    }

    /// <summary>Makes <paramref name="next"/> the stored state, durably; throws IOException (and keeps the old state) when it cannot.</summary>
    public void Save(ExportsDocument next)
    {
        if (Problem(next) is { } problem)
        {
            throw new ArgumentException($"Refusing to store an invalid exports state: {problem}.", nameof(next));
        }

        lock (_lock)
        {
            DurableFile.Replace(_path, JsonSerializer.SerializeToUtf8Bytes(next, ExportsJsonContext.Default.ExportsDocument));
            Current = next;
        }
    }

    /// <summary>What is wrong with a document, or null.</summary>
    internal static string? Problem(ExportsDocument document)
    {
        if (document.Version != CurrentVersion)
        {
            return $"version {document.Version} is not the supported version {CurrentVersion}";
        }

        if (document.Subsystems is null || document.Listeners is null || document.AnaStates is null)
        {
            return "a list is missing";
        }

        var nqns = new HashSet<string>(StringComparer.Ordinal);
        foreach (var subsystem in document.Subsystems)
        {
            if (subsystem is null)
            {
                return "a subsystem entry is empty";
            }

            if (NqnRules.Problem(subsystem.Nqn) is { } nqnProblem)
            {
                return $"subsystem '{subsystem.Nqn}': {nqnProblem}";
            }

            if (!nqns.Add(subsystem.Nqn))
            {
                return $"subsystem {subsystem.Nqn} is listed twice";
            }

            if (subsystem.AllowedHosts is null || subsystem.AllowedHosts.Any(h => NqnRules.Problem(h) is not null) || subsystem.Namespaces is null)
            {
                return $"subsystem {subsystem.Nqn} has a missing list or an invalid host NQN";
            }

            if (HostsProblem(subsystem) is { } hostsProblem)
            {
                return $"subsystem {subsystem.Nqn}: {hostsProblem}";
            }

            if (subsystem.Listeners?.Any(l => l is null || !IPAddress.TryParse(l.Address, out _) || l.Port is < 1 or > 65535) == true)
            {
                return $"subsystem {subsystem.Nqn} lists an invalid listener";
            }

            var ids = new HashSet<uint>();
            foreach (var ns in subsystem.Namespaces)
            {
                if (ns is null || ns.Id is 0 or > Subsystem.MaxNamespaces || !ids.Add(ns.Id) || !VolumeCatalog.IsValidName(ns.Volume)
                    || ns.AnaGroup is 0 or > TargetPort.MaxAnaGroups)
                {
                    return $"subsystem {subsystem.Nqn} has an invalid or repeated namespace ({ns?.Id}, volume '{ns?.Volume}', ANA group {ns?.AnaGroup})";
                }
            }
        }

        var portIds = new HashSet<ushort>();
        foreach (var listener in document.Listeners)
        {
            if (listener is null || listener.Id == 0 || !portIds.Add(listener.Id) || !IPAddress.TryParse(listener.Address, out _) || listener.Port is < 1 or > 65535)
            {
                return $"listener {listener?.Id} ({listener?.Address}:{listener?.Port}) is invalid or repeated";
            }
        }

        foreach (var ana in document.AnaStates)
        {
            if (ana is null || !IPAddress.TryParse(ana.Address, out _) || ana.Port is < 1 or > 65535 || ana.Group is 0 or > TargetPort.MaxAnaGroups
                || !Enum.TryParse<AnaState>(ana.State, out _))
            {
                return $"ANA state {ana?.Address}:{ana?.Port} group {ana?.Group} '{ana?.State}' is invalid";
            }
        }

        return null;
    }

    /// <summary>What is wrong with a subsystem's authenticating hosts (never showing a secret), or null.</summary>
    private static string? HostsProblem(ExportedSubsystem subsystem)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var host in subsystem.Hosts ?? [])
        {
            if (host is null || !seen.Add(host.Nqn) || !subsystem.AllowedHosts.Contains(host.Nqn, StringComparer.Ordinal))
            {
                return $"an authenticating host entry ({host?.Nqn}) is empty, repeated or not among the allowed hosts";
            }

            using var credentials = HostCredentials.TryCreate(host.DhchapSecret, host.DhchapControllerSecret, host.DhchapHash, host.DhchapGroup, out string? problem);
            if (credentials is null)
            {
                return $"host {host.Nqn}: {problem}";
            }
        }

        return null;
    }
}

/// <summary>exports.json.</summary>
internal sealed record ExportsDocument(int Version, IReadOnlyList<ExportedSubsystem> Subsystems, IReadOnlyList<StoredListener> Listeners, IReadOnlyList<StoredAnaState> AnaStates)
{
    public static ExportsDocument Empty { get; } = new(ExportsStore.CurrentVersion, [], [], []);
}

/// <summary>
/// A subsystem created by the control plane; <paramref name="Listeners"/> null: served on every
/// listener. <paramref name="Hosts"/>: the allowed hosts that must authenticate, with their secrets
/// (which is why the file is its owner's only).
/// </summary>
internal sealed record ExportedSubsystem(string Nqn, string? SerialNumber, string? ModelNumber, bool AllowAnyHost, IReadOnlyList<string> AllowedHosts, IReadOnlyList<ExportedNamespace> Namespaces,
    IReadOnlyList<StoredEndpoint>? Listeners = null, IReadOnlyList<StoredHostCredentials>? Hosts = null)
{
    /// <summary>The hosts' credentials as the target uses them; a bad entry throws (Open and Save refuse one).</summary>
    public Dictionary<string, HostCredentials> Credentials() =>
        (Hosts ?? []).ToDictionary(h => h.Nqn, h => HostCredentials.TryCreate(h.DhchapSecret, h.DhchapControllerSecret, h.DhchapHash, h.DhchapGroup, out string? problem)
            ?? throw new InvalidOperationException($"Subsystem {Nqn} host {h.Nqn}: {problem}."), StringComparer.Ordinal);
}

/// <summary>An allowed host's DH-HMAC-CHAP secrets (DHHC-1 text) and the hash and group the controller insists on (null: the host's offer).</summary>
internal sealed record StoredHostCredentials(string Nqn, string DhchapSecret, string? DhchapControllerSecret, string? DhchapHash, string? DhchapGroup);

/// <summary>A listener by address and port (its id may change when the configuration does).</summary>
internal sealed record StoredEndpoint(string Address, int Port);

/// <summary>A namespace: always a catalog volume.</summary>
internal sealed record ExportedNamespace(uint Id, string Volume, uint AnaGroup);

/// <summary>A listener added by the control plane; its id is its PORTID.</summary>
internal sealed record StoredListener(ushort Id, string Address, int Port);

/// <summary>An ANA state set by the control plane on a listener (configured or added), by address and port.</summary>
internal sealed record StoredAnaState(string Address, int Port, uint Group, string State);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ExportsDocument))]
internal sealed partial class ExportsJsonContext : JsonSerializerContext;
