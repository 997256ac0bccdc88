using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using NovaStor.ControlPlane;

namespace NovaStor.Csi.Controller;

/// <summary>
/// The storage nodes the controller provisions on, by name. Either the configured list, checked at
/// start, or what <see cref="KubernetesStorageNodes"/> last found (replaced whole on each refresh,
/// so a call sees one consistent set; a node whose address did not change keeps its channel).
/// </summary>
internal sealed class StorageNodes : IDisposable
{
    private readonly string _defaultCertificates;
    private readonly Lock _lock = new();
    private readonly List<StorageNode> _retired = [];
    private volatile FrozenDictionary<string, StorageNode> _byName = FrozenDictionary<string, StorageNode>.Empty;

    public StorageNodes(IOptions<CsiOptions> options)
    {
        var settings = options.Value;
        _defaultCertificates = settings.ControlPlaneCertificates;
        CallTimeout = TimeSpan.FromSeconds(Math.Max(1, settings.CallTimeoutSeconds));
        if (settings.Kubernetes.Enabled)
        {
            if (settings.StorageNodes.Count > 0)
            {
                throw new InvalidOperationException("Csi:StorageNodes and Csi:Kubernetes:Enabled exclude each other: the storage nodes are either listed or found.");
            }

            return; // found by KubernetesStorageNodes
        }

        var problems = Replace(settings.StorageNodes);
        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"Csi:StorageNodes: {problems[0]}");
        }
    }

    public IReadOnlyCollection<StorageNode> All => _byName.Values;

    public TimeSpan CallTimeout { get; }

    public StorageNode? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Makes <paramref name="nodes"/> the storage nodes; the ones that cannot work are left out, and returned as problems.</summary>
    public IReadOnlyList<string> Replace(IEnumerable<StorageNodeOptions> nodes)
    {
        var problems = new List<string>();
        lock (_lock)
        {
            var current = _byName;
            var next = new Dictionary<string, StorageNode>(StringComparer.Ordinal);
            foreach (var options in nodes)
            {
                if (Problem(options) is { } problem)
                {
                    problems.Add(problem);
                    continue;
                }

                var node = current.TryGetValue(options.Name, out var known) && known.Matches(options, _defaultCertificates)
                    ? known
                    : new StorageNode(options, _defaultCertificates);
                if (node != known && node.ControlPlane.Scheme == "https" && MissingCredential(node.CertificateFolder) is { } missing)
                {
                    problems.Add($"node {options.Name}'s client credentials are incomplete: {missing} is missing (client.pem, client-key.pem and ca.pem, as novastor certs create writes them; Csi:ControlPlaneCertificates or the node's Certificates).");
                    node.Dispose();
                    continue;
                }

                if (!next.TryAdd(options.Name, node))
                {
                    problems.Add($"node {options.Name} is listed twice.");
                    if (node != known)
                    {
                        node.Dispose();
                    }
                }
            }

            // A node that went away may still be in a call: its channel is closed at shutdown, not now.
            _retired.AddRange(current.Values.Where(node => !next.TryGetValue(node.Name, out var kept) || kept != node));
            _byName = next.ToFrozenDictionary(StringComparer.Ordinal);
        }

        return problems;
    }

    private static string? Problem(StorageNodeOptions node)
    {
        if (string.IsNullOrWhiteSpace(node.Name) || node.Name.Contains('/', StringComparison.Ordinal))
        {
            return $"the name '{node.Name}' must be non-empty and hold no '/' (it starts the node's volume IDs).";
        }

        return !Uri.TryCreate(node.ControlPlane, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http")
            ? $"node {node.Name}'s ControlPlane '{node.ControlPlane}' is not an https:// address."
            : null;
    }

    private static string? MissingCredential(string folder) =>
        new[] { CertificateFiles.ClientCertificate, CertificateFiles.ClientKey, CertificateFiles.CaCertificate }
            .Select(name => Path.Combine(folder, name))
            .FirstOrDefault(path => !File.Exists(path));

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var node in _byName.Values.Concat(_retired))
            {
                node.Dispose();
            }
        }
    }
}
