using Microsoft.Extensions.Options;
using NovaStor.ControlPlane;

namespace NovaStor.Csi.Controller;

/// <summary>The storage nodes the controller provisions on, by name: the configured list, checked at start.</summary>
internal sealed class StorageNodes : IDisposable
{
    private readonly Dictionary<string, StorageNode> _byName = new(StringComparer.Ordinal);

    public StorageNodes(IOptions<CsiOptions> options)
    {
        var settings = options.Value;
        foreach (var node in settings.StorageNodes)
        {
            if (string.IsNullOrWhiteSpace(node.Name) || node.Name.Contains('/', StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Csi:StorageNodes: the name '{node.Name}' must be non-empty and hold no '/' (it starts the node's volume IDs).");
            }

            if (!Uri.TryCreate(node.ControlPlane, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            {
                throw new InvalidOperationException($"Csi:StorageNodes: node {node.Name}'s ControlPlane '{node.ControlPlane}' is not an https:// address.");
            }

            var storageNode = new StorageNode(node, settings.ControlPlaneCertificates);
            if (uri.Scheme == "https" && MissingCredential(storageNode.CertificateFolder) is { } missing)
            {
                throw new InvalidOperationException($"Csi:StorageNodes: node {node.Name}'s client credentials are incomplete: {missing} is missing (client.pem, client-key.pem and ca.pem, as novastor certs create writes them; Csi:ControlPlaneCertificates or the node's Certificates).");
            }

            if (!_byName.TryAdd(node.Name, storageNode))
            {
                throw new InvalidOperationException($"Csi:StorageNodes: node {node.Name} is listed twice.");
            }
        }

        CallTimeout = TimeSpan.FromSeconds(Math.Max(1, settings.CallTimeoutSeconds));
    }

    public IReadOnlyCollection<StorageNode> All => _byName.Values;

    private static string? MissingCredential(string folder) =>
        new[] { CertificateFiles.ClientCertificate, CertificateFiles.ClientKey, CertificateFiles.CaCertificate }
            .Select(name => Path.Combine(folder, name))
            .FirstOrDefault(path => !File.Exists(path));

    public TimeSpan CallTimeout { get; }

    public StorageNode? Find(string name) => _byName.GetValueOrDefault(name);

    public void Dispose()
    {
        foreach (var node in _byName.Values)
        {
            node.Dispose();
        }
    }
}
