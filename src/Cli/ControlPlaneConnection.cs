using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using NovaStor.ControlPlane;

namespace NovaStor.Cli;

/// <summary>
/// The options every control-plane command takes: where the target's gRPC control plane is, the
/// credentials to present there (mutual TLS) and how long a call may take. Each value comes from
/// its option, else its environment variable, else its default; with no certificate given, the
/// development certificates the target writes under its data folder are used.
/// </summary>
internal sealed class ControlPlaneConnection
{
    public const string DefaultAddress = "https://127.0.0.1:9500";
    public const string DefaultDataDirectory = "data";
    public const int DefaultTimeoutSeconds = 30;

    public const string AddressVariable = "NOVASTOR_CONTROL_PLANE";
    public const string ClientCertificateVariable = "NOVASTOR_CLIENT_CERT";
    public const string ClientKeyVariable = "NOVASTOR_CLIENT_KEY";
    public const string CaVariable = "NOVASTOR_CA";
    public const string DataVariable = "NOVASTOR_DATA";

    /// <summary>The development certificates' folder inside the target's data folder (created by the target or `novastor certs create`).</summary>
    public const string CertificateFolder = "control-plane";
    public const string ClientCertificateFile = "client.pem", ClientKeyFile = "client-key.pem", CaFile = "ca.pem";

    public Option<string?> Address { get; } = new("--control-plane")
    {
        Description = $"The target's control plane, https://HOST:PORT (or http:// for a target started with NovaStor:ControlPlane:Insecure=true). Env {AddressVariable}; default {DefaultAddress}",
        HelpName = "url",
    };

    public Option<string?> ClientCertificate { get; } = new("--client-cert")
    {
        Description = $"Client certificate (PEM) for mutual TLS. Env {ClientCertificateVariable}; default <data>/{CertificateFolder}/{ClientCertificateFile}",
        HelpName = "path",
    };

    public Option<string?> ClientKey { get; } = new("--client-key")
    {
        Description = $"The client certificate's private key (PEM). Env {ClientKeyVariable}; default <data>/{CertificateFolder}/{ClientKeyFile}",
        HelpName = "path",
    };

    public Option<string?> Ca { get; } = new("--ca")
    {
        Description = $"The CA (PEM) the control plane's server certificate must chain to. Env {CaVariable}; default <data>/{CertificateFolder}/{CaFile}",
        HelpName = "path",
    };

    public Option<string?> Data { get; } = new("--data")
    {
        Description = $"The target's data folder, where its development certificates are. Env {DataVariable}; default '{DefaultDataDirectory}' (relative to the working directory, as the target's)",
        HelpName = "dir",
    };

    public Option<int> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds the call may take before it is abandoned",
        DefaultValueFactory = _ => DefaultTimeoutSeconds,
        CustomParser = Numbers.Parser(1, 86400, "--timeout"),
        HelpName = "seconds",
    };

    public void AddTo(Command command)
    {
        command.Add(Address);
        command.Add(ClientCertificate);
        command.Add(ClientKey);
        command.Add(Ca);
        command.Add(Data);
        command.Add(Timeout);
    }

    /// <summary>The address and credentials from the command line and the process environment.</summary>
    public ControlPlaneClientOptions Resolve(ParseResult result) => Resolve(
        result.GetValue(Address), result.GetValue(ClientCertificate), result.GetValue(ClientKey), result.GetValue(Ca), result.GetValue(Data),
        Environment.GetEnvironmentVariable, File.Exists);

    /// <summary>
    /// Options first, then <paramref name="environment"/>, then the defaults. An https address
    /// needs all three files: a missing one is a <see cref="ControlPlaneCredentialsException"/>
    /// that says where each was looked for and how to name them.
    /// </summary>
    public static ControlPlaneClientOptions Resolve(
        string? address, string? clientCertificate, string? clientKey, string? ca, string? data,
        Func<string, string?> environment, Func<string, bool> fileExists)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(fileExists);
        string text = First(address, environment(AddressVariable)) ?? DefaultAddress;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp) || uri.Host.Length == 0)
        {
            throw new CliUsageException($"--control-plane '{text}' is not an https://HOST:PORT (or http://HOST:PORT) address");
        }

        if (uri.Scheme == Uri.UriSchemeHttp)
        {
            // The target's insecure development mode: plaintext HTTP/2, no certificates either way.
            return new ControlPlaneClientOptions(uri);
        }

        string folder = Path.Combine(First(data, environment(DataVariable)) ?? DefaultDataDirectory, CertificateFolder);
        var certificate = Locate(clientCertificate, environment(ClientCertificateVariable), "--client-cert", ClientCertificateVariable, Path.Combine(folder, ClientCertificateFile));
        var key = Locate(clientKey, environment(ClientKeyVariable), "--client-key", ClientKeyVariable, Path.Combine(folder, ClientKeyFile));
        var authority = Locate(ca, environment(CaVariable), "--ca", CaVariable, Path.Combine(folder, CaFile));
        var missing = new[] { certificate, key, authority }.Where(file => !fileExists(file.Path)).ToList();
        if (missing.Count > 0)
        {
            string where = string.Join(", ", missing.Select(file => $"{file.What} {Path.GetFullPath(file.Path)} ({file.Source})"));
            throw new ControlPlaneCredentialsException(
                $"{uri.GetLeftPart(UriPartial.Authority)} needs mutual TLS credentials and some are missing: {where}. " +
                $"Give them with --client-cert, --client-key and --ca (or {ClientCertificateVariable}, {ClientKeyVariable}, {CaVariable}), " +
                $"or point --data (or {DataVariable}) at the target's data folder, whose {CertificateFolder}/ holds its development certificates; " +
                $"a target started with NovaStor:ControlPlane:Insecure=true is reached with an http:// --control-plane instead");
        }

        return new ControlPlaneClientOptions(uri, certificate.Path, key.Path, authority.Path);
    }

    /// <summary>A channel to the control plane; credentials that cannot be loaded are a <see cref="ControlPlaneCredentialsException"/>.</summary>
    public static GrpcChannel Open(ControlPlaneClientOptions options)
    {
        try
        {
            return ControlPlaneChannel.Create(options);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            throw new ControlPlaneCredentialsException($"cannot load the control plane credentials ({options.ClientCertificatePath}, {options.ClientKeyPath}, {options.CaPath}): {ex.Message}", ex);
        }
    }

    /// <summary>Every call carries this deadline and the command's cancellation (Ctrl-C).</summary>
    public CallOptions CallOptions(ParseResult result, CancellationToken cancellationToken) =>
        new(deadline: DateTime.UtcNow.AddSeconds(result.GetValue(Timeout)), cancellationToken: cancellationToken);

    private static (string Path, string What, string Source) Locate(string? option, string? variable, string optionName, string variableName, string fallback)
    {
        string what = optionName[2..];
        return option is { Length: > 0 } ? (option, what, optionName)
            : variable is { Length: > 0 } ? (variable, what, variableName)
            : (fallback, what, "default");
    }

    private static string? First(string? option, string? variable) =>
        option is { Length: > 0 } ? option : variable is { Length: > 0 } ? variable : null;
}

/// <summary>The control plane's credentials are missing or unusable: the CLI cannot authenticate (exit 2).</summary>
internal sealed class ControlPlaneCredentialsException : Exception
{
    public ControlPlaneCredentialsException()
    {
    }

    public ControlPlaneCredentialsException(string message) : base(message)
    {
    }

    public ControlPlaneCredentialsException(string message, Exception inner) : base(message, inner)
    {
    }
}
