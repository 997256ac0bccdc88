using Microsoft.Extensions.Logging;

namespace NovaStor.Target.ControlPlane.Security;

/// <summary>The control plane's TLS messages, source generated; event ids 250-269 are theirs.</summary>
internal static partial class SecurityLog
{
    [LoggerMessage(250, LogLevel.Information, "Created development certificates for the control plane in {Folder}. Clients on this machine present {ClientCertificate} with the key {ClientKey} and trust {Ca}; the novastor CLI finds them there. Listening beyond loopback needs certificates of your own (novastor certs create).")]
    public static partial void DevelopmentCreated(ILogger logger, string folder, string clientCertificate, string clientKey, string ca);

    [LoggerMessage(251, LogLevel.Information, "The control plane uses the development certificates in {Folder}. Clients on this machine present {ClientCertificate} with the key {ClientKey} and trust {Ca}; the novastor CLI finds them there.")]
    public static partial void DevelopmentReused(ILogger logger, string folder, string clientCertificate, string clientKey, string ca);

    [LoggerMessage(252, LogLevel.Information, "The control plane serves {ServerCertificate} ({Subject}, valid until {NotAfter:u}) and requires client certificates chained to {ClientCa}")]
    public static partial void Configured(ILogger logger, string serverCertificate, string subject, DateTime notAfter, string clientCa);

    [LoggerMessage(253, LogLevel.Warning, "The control plane's server certificate {ServerCertificate} expires on {NotAfter:u}, in {Days} days: clients refuse it after that")]
    public static partial void ServerCertificateExpiring(ILogger logger, string serverCertificate, DateTime notAfter, int days);

    [LoggerMessage(254, LogLevel.Warning, "Control plane client refused at the TLS handshake: certificate {Subject} issued by {Issuer}: {Reason}")]
    public static partial void ClientRefused(ILogger logger, string subject, string issuer, string reason);
}
