using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;

namespace NovaStor.ControlPlane;

/// <summary>Where a client finds the control plane and the credentials it presents.</summary>
/// <param name="Address">https://host:port (http:// only for a target started with the insecure development flag).</param>
/// <param name="ClientCertificatePath">The client certificate (PEM).</param>
/// <param name="ClientKeyPath">Its private key (PEM).</param>
/// <param name="CaPath">The CA (PEM) the server's certificate must chain to.</param>
public sealed record ControlPlaneClientOptions(Uri Address, string? ClientCertificatePath = null, string? ClientKeyPath = null, string? CaPath = null)
{
    /// <summary>
    /// The client credentials in a folder laid out as <c>novastor certs create</c> writes it (or
    /// the target's development folder, <see cref="CertificateFiles.DevelopmentDirectory"/>):
    /// client.pem, client-key.pem and ca.pem.
    /// </summary>
    public static ControlPlaneClientOptions FromDirectory(Uri address, string directory) => new(
        address,
        Path.Combine(directory, CertificateFiles.ClientCertificate),
        Path.Combine(directory, CertificateFiles.ClientKey),
        Path.Combine(directory, CertificateFiles.CaCertificate));
}

/// <summary>
/// A gRPC channel to a target's control plane over mutual TLS: the client certificate is
/// presented, and the server certificate must chain to the given CA (not to the machine's trust
/// store: the control plane's CA is its own), be meant for serverAuth and name the host dialled.
/// </summary>
public static class ControlPlaneChannel
{
    /// <param name="options">Where and with what credentials.</param>
    /// <param name="maxReconnectBackoff">
    /// The longest wait between attempts to reach a server that went away (gRPC's default is two
    /// minutes, during which every call fails at once): a long-lived client of a server that
    /// restarts (the CSI controller) wants a short one.
    /// </param>
    /// <exception cref="ArgumentException">An https address without all three files, or an address that is not http(s).</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">A credential file holds no usable PEM.</exception>
    public static GrpcChannel Create(ControlPlaneClientOptions options, TimeSpan? maxReconnectBackoff = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (options.Address.Scheme == Uri.UriSchemeHttps)
        {
            if (options.ClientCertificatePath is null || options.ClientKeyPath is null || options.CaPath is null)
            {
                throw new ArgumentException("An https control plane needs a client certificate, its key and the CA.", nameof(options));
            }

            var clientCertificate = CertificateFiles.LoadCertificateWithKey(options.ClientCertificatePath, options.ClientKeyPath);
            var ca = CertificateFiles.LoadCertificates(options.CaPath);
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [clientCertificate],
                // Whatever CA list the server asks for, this is the certificate to present.
                LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate,
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) => AcceptsServer(certificate, chain, errors, ca),
            };
        }
        else if (options.Address.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException($"'{options.Address}' is not an http(s) address.", nameof(options));
        }

        var channelOptions = new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true };
        if (maxReconnectBackoff is { } backoff)
        {
            channelOptions.MaxReconnectBackoff = backoff;
            channelOptions.InitialReconnectBackoff = backoff < channelOptions.InitialReconnectBackoff ? backoff : channelOptions.InitialReconnectBackoff;
        }

        return GrpcChannel.ForAddress(options.Address, channelOptions);
    }

    private static bool AcceptsServer(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, X509Certificate2Collection ca)
    {
        // The platform's own chain check ran against the machine's trust store and is expected to
        // fail (RemoteCertificateChainErrors); its name check is the one kept.
        if (certificate is not X509Certificate2 server || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }

        return CertificateFiles.ChainsTo(server, ca, ExtendedKeyUsage.ServerAuthentication, chain?.ChainPolicy.ExtraStore);
    }
}
