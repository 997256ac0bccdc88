using Grpc.Net.Client;
using NovaStor.ControlPlane;
using Cp = NovaStor.ControlPlane.V1;

namespace NovaStor.Csi.Controller;

/// <summary>A storage node as the controller sees it: its name, its control plane's clients (one mTLS channel, made on first use) and its NVMe paths.</summary>
internal sealed class StorageNode(StorageNodeOptions options, string defaultCertificates) : IDisposable
{
    /// <summary>A node that restarts is tried again at least this often (gRPC's default backoff grows to two minutes of failing at once).</summary>
    private static readonly TimeSpan MaxReconnectBackoff = TimeSpan.FromSeconds(2);

    private readonly Lock _lock = new();
    private GrpcChannel? _channel;

    public string Name { get; } = options.Name;

    public Uri ControlPlane { get; } = new(options.ControlPlane);

    /// <summary>The folder with this node's client credentials.</summary>
    public string CertificateFolder { get; } = string.IsNullOrEmpty(options.Certificates) ? defaultCertificates : options.Certificates;

    /// <summary>Configured NVMe/TCP addresses ("address:port"); empty: ask the node.</summary>
    public IReadOnlyList<string> NvmeAddresses { get; } = options.NvmeAddresses;

    /// <summary>Whether <paramref name="options"/> describe this node as it is (same addresses and credentials).</summary>
    public bool Matches(StorageNodeOptions options, string defaultCertificates) =>
        options.Name == Name
        && Uri.TryCreate(options.ControlPlane, UriKind.Absolute, out var uri) && uri == ControlPlane
        && (string.IsNullOrEmpty(options.Certificates) ? defaultCertificates : options.Certificates) == CertificateFolder
        && options.NvmeAddresses.SequenceEqual(NvmeAddresses, StringComparer.Ordinal);

    public Cp.Volumes.VolumesClient Volumes => new(Channel);

    public Cp.Subsystems.SubsystemsClient Subsystems => new(Channel);

    public Cp.Listeners.ListenersClient Listeners => new(Channel);

    private GrpcChannel Channel
    {
        get
        {
            lock (_lock)
            {
                return _channel ??= ControlPlaneChannel.Create(ControlPlaneClientOptions.FromDirectory(ControlPlane, CertificateFolder), MaxReconnectBackoff);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _channel?.Dispose();
            _channel = null;
        }
    }
}
