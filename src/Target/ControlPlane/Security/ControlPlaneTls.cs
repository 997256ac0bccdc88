using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NovaStor.ControlPlane;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.ControlPlane.Security;

/// <summary>
/// The control plane endpoint's TLS: the configured certificates, or the development ones created
/// on first start; client certificates required and checked against the client CA.
/// </summary>
internal sealed class ControlPlaneTls
{
    /// <summary>A server certificate this close to its end gets a warning at every start.</summary>
    public static readonly TimeSpan ExpiryWarning = TimeSpan.FromDays(30);

    private const string Settings = ControlPlaneOptions.Section;

    private readonly X509Certificate2 _serverCertificate;
    private readonly X509Certificate2Collection _serverChain;
    private readonly X509Certificate2Collection _clientCa;

    private ControlPlaneTls(X509Certificate2 serverCertificate, X509Certificate2Collection serverChain, X509Certificate2Collection clientCa)
    {
        _serverCertificate = serverCertificate;
        _serverChain = serverChain;
        _clientCa = clientCa;
    }

    /// <summary>
    /// The insecure flag together with certificates is a contradiction, not a choice: refuse it
    /// rather than serve plaintext to an operator who configured TLS.
    /// </summary>
    /// <exception cref="InvalidOperationException">Both are set.</exception>
    public static void RefuseInsecureWithCertificates(ControlPlaneOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Insecure && ConfiguredSettings(options).Any())
        {
            throw new InvalidOperationException(
                $"{Settings}:Insecure is set together with {string.Join(", ", ConfiguredSettings(options))}: " +
                "remove the insecure flag to serve with those certificates, or the certificate settings for a plaintext development endpoint.");
        }
    }

    /// <summary>Loads (or, with nothing configured, creates) the credentials; refuses what would not be safe.</summary>
    /// <exception cref="InvalidOperationException">
    /// A non-loopback address without configured certificates, an incomplete configuration, or a
    /// file that is missing or unusable; the message names the setting.
    /// </exception>
    public static ControlPlaneTls Prepare(ControlPlaneOptions options, string dataDirectory, ILogger logger, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var now = (time ?? TimeProvider.System).GetUtcNow();
        var files = ConfiguredFiles(options);
        string? developmentFolder = null;
        if (files is null)
        {
            if (!IPAddress.TryParse(options.Address, out var address) || !IPAddress.IsLoopback(address))
            {
                throw new InvalidOperationException(
                    $"{Settings}:Address is {options.Address}, not a loopback address: listening there needs certificates of your own. " +
                    $"Set {Settings}:CertificateDirectory (a folder with ca.pem, server.pem and server-key.pem, as 'novastor certs create' writes it), " +
                    $"or {Settings}:ServerCertificate, {Settings}:ServerKey and {Settings}:ClientCa. " +
                    "Without them the control plane serves loopback only, with development certificates.");
            }

            developmentFolder = Path.GetFullPath(CertificateFiles.DevelopmentDirectory(dataDirectory));
            bool created = DevelopmentCertificates.Ensure(developmentFolder);
            files = DevelopmentFiles(developmentFolder);
            string client = Path.Combine(developmentFolder, CertificateFiles.ClientCertificate);
            string clientKey = Path.Combine(developmentFolder, CertificateFiles.ClientKey);
            string ca = Path.Combine(developmentFolder, CertificateFiles.CaCertificate);
            if (created)
            {
                SecurityLog.DevelopmentCreated(logger, developmentFolder, client, clientKey, ca);
            }
            else
            {
                SecurityLog.DevelopmentReused(logger, developmentFolder, client, clientKey, ca);
            }
        }

        var (server, chain) = LoadServer(files.Value.Certificate, files.Value.Key, now);
        var clientCa = Load(files.Value.ClientCa, CertificateFiles.LoadCertificates, "holds no usable PEM certificate");
        if (server.NotAfter.ToUniversalTime() - now.UtcDateTime < ExpiryWarning)
        {
            SecurityLog.ServerCertificateExpiring(logger, files.Value.Certificate.Path, server.NotAfter.ToUniversalTime(), (int)(server.NotAfter.ToUniversalTime() - now.UtcDateTime).TotalDays);
        }

        if (developmentFolder is null)
        {
            SecurityLog.Configured(logger, files.Value.Certificate.Path, server.Subject, server.NotAfter.ToUniversalTime(), files.Value.ClientCa.Path);
        }

        return new ControlPlaneTls(server, chain, clientCa);
    }

    /// <summary>Makes the endpoint require a client certificate chained to the client CA.</summary>
    public void Apply(ListenOptions listen)
    {
        ArgumentNullException.ThrowIfNull(listen);
        var logger = listen.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("NovaStor.ControlPlane.Security");
        listen.UseHttps(new HttpsConnectionAdapterOptions
        {
            ServerCertificate = _serverCertificate,
            ServerCertificateChain = _serverChain,
            ClientCertificateMode = ClientCertificateMode.RequireCertificate,
            // The CA publishes no revocation lists; a check would only look for them online.
            CheckCertificateRevocation = false,
            ClientCertificateValidation = (certificate, chain, _) => AcceptsClient(certificate, chain, logger),
        });
    }

    /// <summary>
    /// Kestrel's chain check ran against the machine's trust store (so its errors are expected);
    /// the verdict is whether the certificate chains to the client CA alone, for clientAuth.
    /// </summary>
    internal bool AcceptsClient(X509Certificate2 certificate, X509Chain? chain, ILogger logger)
    {
        string? problem = CertificateFiles.ChainProblem(certificate, _clientCa, ExtendedKeyUsage.ClientAuthentication, chain?.ChainPolicy.ExtraStore);
        if (problem is not null)
        {
            SecurityLog.ClientRefused(logger, certificate.Subject, certificate.Issuer, problem);
            return false;
        }

        return true;
    }

    private static (X509Certificate2 Server, X509Certificate2Collection Chain) LoadServer(SettingFile certificate, SettingFile key, DateTimeOffset now)
    {
        var all = Load(certificate, CertificateFiles.LoadCertificates, "holds no usable PEM certificate");
        var server = Load(key, path => CertificateFiles.LoadCertificateWithKey(certificate.Path, path), $"is not a usable PEM private key for {certificate.Path}");
        if (server.NotBefore.ToUniversalTime() > now.UtcDateTime || server.NotAfter.ToUniversalTime() < now.UtcDateTime)
        {
            throw new InvalidOperationException($"{certificate.Setting}: {certificate.Path} is valid from {server.NotBefore.ToUniversalTime():u} to {server.NotAfter.ToUniversalTime():u}, not now. {certificate.Remedy}");
        }

        if (!server.Extensions.OfType<X509EnhancedKeyUsageExtension>().Any(usage => usage.EnhancedKeyUsages.Cast<Oid>().Any(oid => oid.Value == ExtendedKeyUsage.ServerAuthentication)))
        {
            throw new InvalidOperationException($"{certificate.Setting}: {certificate.Path} does not name serverAuth in its extended key usage; control plane clients refuse such a server certificate. {certificate.Remedy}");
        }

        // What follows the server certificate in its file is its chain, sent to clients with it.
        var chain = new X509Certificate2Collection();
        foreach (var other in all)
        {
            if (other.Thumbprint != server.Thumbprint)
            {
                chain.Add(other);
            }
        }

        return (server, chain);
    }

    private static T Load<T>(SettingFile file, Func<string, T> load, string problem)
    {
        if (!File.Exists(file.Path))
        {
            throw new InvalidOperationException($"{file.Setting}: {file.Path} does not exist. {file.Remedy}");
        }

        try
        {
            return load(file.Path);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidOperationException($"{file.Setting}: {file.Path} {problem} ({ex.Message}). {file.Remedy}", ex);
        }
    }

    /// <summary>The three files the configuration names, or null when it names none (development certificates).</summary>
    private static (SettingFile Certificate, SettingFile Key, SettingFile ClientCa)? ConfiguredFiles(ControlPlaneOptions options)
    {
        string? directory = Blank(options.CertificateDirectory);
        string? certificate = Blank(options.ServerCertificate);
        string? key = Blank(options.ServerKey);
        string? ca = Blank(options.ClientCa);
        if (directory is null && certificate is null && key is null && ca is null)
        {
            return null;
        }

        if (directory is null && (certificate is null || key is null || ca is null))
        {
            var missing = new[] { ("ServerCertificate", certificate), ("ServerKey", key), ("ClientCa", ca) }
                .Where(setting => setting.Item2 is null).Select(setting => $"{Settings}:{setting.Item1}");
            throw new InvalidOperationException(
                $"{Settings}: certificates are configured in part: {string.Join(" and ", missing)} not set. " +
                $"Set all three, or {Settings}:CertificateDirectory (a folder with ca.pem, server.pem and server-key.pem).");
        }

        return (
            Resolve(certificate, "ServerCertificate", directory, CertificateFiles.ServerCertificate),
            Resolve(key, "ServerKey", directory, CertificateFiles.ServerKey),
            Resolve(ca, "ClientCa", directory, CertificateFiles.CaCertificate));
    }

    private static SettingFile Resolve(string? path, string setting, string? directory, string name)
    {
        const string Remedy = "Fix the setting or the file ('novastor certs create DIR' makes a complete set).";
        return path is not null
            ? new SettingFile(Path.GetFullPath(path), $"{Settings}:{setting}", Remedy)
            : new SettingFile(Path.GetFullPath(Path.Combine(directory!, name)), $"{Settings}:CertificateDirectory ({name})", Remedy);
    }

    private static (SettingFile Certificate, SettingFile Key, SettingFile ClientCa) DevelopmentFiles(string folder)
    {
        string setting = $"{Settings} development certificates";
        string remedy = $"Delete {folder} to have a new set made at the next start (clients then need the new client certificate).";
        return (
            new SettingFile(Path.Combine(folder, CertificateFiles.ServerCertificate), setting, remedy),
            new SettingFile(Path.Combine(folder, CertificateFiles.ServerKey), setting, remedy),
            new SettingFile(Path.Combine(folder, CertificateFiles.CaCertificate), setting, remedy));
    }

    private static IEnumerable<string> ConfiguredSettings(ControlPlaneOptions options)
    {
        var settings = new (string Name, string? Value)[]
        {
            ("CertificateDirectory", options.CertificateDirectory),
            ("ServerCertificate", options.ServerCertificate),
            ("ServerKey", options.ServerKey),
            ("ClientCa", options.ClientCa),
        };
        return settings.Where(setting => Blank(setting.Value) is not null).Select(setting => $"{Settings}:{setting.Name}");
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    /// <summary>A credential file and the setting (or folder) it came from, for messages that say what to fix.</summary>
    private sealed record SettingFile(string Path, string Setting, string Remedy);
}
