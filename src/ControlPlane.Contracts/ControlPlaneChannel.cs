using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;

namespace NovaStor.ControlPlane;

/// <summary>Where a client finds the control plane and the credentials it presents.</summary>
/// <param name="Address">https://host:port (http:// only for a target started with the insecure development flag).</param>
/// <param name="ClientCertificatePath">The client certificate (PEM).</param>
/// <param name="ClientKeyPath">Its private key (PEM).</param>
/// <param name="CaPath">The CA (PEM) the server's certificate must chain to.</param>
public sealed record ControlPlaneClientOptions(Uri Address, string? ClientCertificatePath = null, string? ClientKeyPath = null, string? CaPath = null);

/// <summary>
/// A gRPC channel to a target's control plane over mutual TLS: the client certificate is
/// presented, and the server certificate must chain to the given CA (not to the machine's trust
/// store: the control plane's CA is its own) and name the host dialled.
/// </summary>
public static class ControlPlaneChannel
{
    public static GrpcChannel Create(ControlPlaneClientOptions options)
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
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    certificate is X509Certificate2 server && CertificateFiles.ChainsTo(server, ca, X509Certificate2Ext.ServerAuthentication)
                    && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0,
            };
        }
        else if (options.Address.Scheme != Uri.UriSchemeHttp)
        {
            throw new ArgumentException($"'{options.Address}' is not an http(s) address.", nameof(options));
        }

        return GrpcChannel.ForAddress(options.Address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }
}
