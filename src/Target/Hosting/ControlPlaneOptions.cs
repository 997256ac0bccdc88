namespace NovaStor.Target.Hosting;

/// <summary>
/// The gRPC control plane's endpoint and credentials ("NovaStor:ControlPlane"). It always uses
/// mutual TLS: with nothing configured, a development CA, a server certificate for loopback and a
/// client certificate are created under the data directory's <c>control-plane</c> folder on first
/// start, and the endpoint stays on loopback. Listening anywhere else needs configured certificates.
/// </summary>
public sealed class ControlPlaneOptions
{
    public const string Section = "NovaStor:ControlPlane";

    /// <summary>Serve the control plane at all.</summary>
    public bool Enabled { get; set; } = true;

    public string Address { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 9500;

    /// <summary>
    /// A folder holding <c>ca.pem</c>, <c>server.pem</c> and <c>server-key.pem</c> (what
    /// <c>novastor certs create</c> writes). The three settings below override single files.
    /// </summary>
    public string? CertificateDirectory { get; set; }

    /// <summary>The server certificate (PEM), with its chain after it if any.</summary>
    public string? ServerCertificate { get; set; }

    /// <summary>The server certificate's private key (PEM).</summary>
    public string? ServerKey { get; set; }

    /// <summary>The CA (PEM) that client certificates must chain to.</summary>
    public string? ClientCa { get; set; }

    /// <summary>
    /// Development only: plaintext HTTP/2 with no client authentication. Binds loopback only, and
    /// the target logs a warning at start and every minute while it runs.
    /// </summary>
    public bool Insecure { get; set; }
}

/// <summary>The Prometheus scrape endpoint ("NovaStor:Metrics").</summary>
public sealed class MetricsOptions
{
    public const string Section = "NovaStor:Metrics";

    public bool Enabled { get; set; } = true;

    public string Address { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 9100;
}
