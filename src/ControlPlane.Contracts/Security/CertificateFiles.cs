using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NovaStor.ControlPlane;

/// <summary>
/// The control plane's certificate files: their fixed names (the target's development folder and
/// <c>novastor certs create</c> use the same ones), PEM loading, owner-only writing, and chain
/// checks against the control plane's own CA rather than the machine's trust store.
/// </summary>
public static class CertificateFiles
{
    public const string CaCertificate = "ca.pem";
    public const string CaKey = "ca-key.pem";
    public const string ServerCertificate = "server.pem";
    public const string ServerKey = "server-key.pem";
    public const string ClientCertificate = "client.pem";
    public const string ClientKey = "client-key.pem";

    /// <summary>Every file of a set, in the order they are written and listed.</summary>
    public static readonly IReadOnlyList<string> All = [CaCertificate, CaKey, ServerCertificate, ServerKey, ClientCertificate, ClientKey];

    /// <summary>The folder under the target's data directory where its development set lives.</summary>
    public const string DevelopmentFolderName = "control-plane";

    /// <summary>Read and write for the owner, nothing for anyone else (0600).</summary>
    public const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Read, write and search for the owner, nothing for anyone else (0700).</summary>
    public const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The target's development folder for <paramref name="dataDirectory"/>.</summary>
    public static string DevelopmentDirectory(string dataDirectory) => Path.Combine(dataDirectory, DevelopmentFolderName);

    /// <summary>
    /// A certificate with its private key, from two PEM files, usable by SslStream as a server or
    /// client certificate.
    /// </summary>
    /// <exception cref="CryptographicException">A file holds no usable PEM, or the key is not the certificate's.</exception>
    public static X509Certificate2 LoadCertificateWithKey(string certificatePath, string keyPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        // A PEM-loaded key is ephemeral: SslStream refuses those on Windows and macOS, and TLS
        // stacks are only promised to work with a key that came with a PKCS#12 import, which
        // this round trip gives on every platform.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }

    /// <summary>Every certificate in a PEM file (a CA file or a certificate followed by its chain may hold several).</summary>
    /// <exception cref="CryptographicException">The file holds no PEM certificate or a damaged one.</exception>
    public static X509Certificate2Collection LoadCertificates(string path)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(path);
        if (certificates.Count == 0)
        {
            throw new CryptographicException($"{path} holds no PEM certificate.");
        }

        return certificates;
    }

    /// <summary>
    /// True when <paramref name="certificate"/> chains to one of <paramref name="roots"/> (and only
    /// to them: the machine's trust store plays no part), is valid now, and names
    /// <paramref name="usageOid"/> in its extended key usage. <paramref name="intermediates"/> are
    /// the certificates the peer sent along with its own.
    /// </summary>
    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection roots, string usageOid, X509Certificate2Collection? intermediates = null) =>
        ChainProblem(certificate, roots, usageOid, intermediates) is null;

    /// <summary>Why <see cref="ChainsTo"/> is false, in a few words for a log line; null when it is true.</summary>
    public static string? ChainProblem(X509Certificate2 certificate, X509Certificate2Collection roots, string usageOid, X509Certificate2Collection? intermediates = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(roots);
        // A certificate without the extension counts as good for every use in RFC 5280 and in
        // X509Chain; a control plane credential must say what it is for, so a server certificate
        // never passes as a client's or the other way round.
        if (!NamesUsage(certificate, usageOid))
        {
            return $"its extended key usage does not include {UsageName(usageOid)}";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        if (intermediates is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        }

        // The control plane's CAs publish no revocation lists: a compromised client certificate
        // is dealt with by replacing the CA.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(usageOid));
        if (chain.Build(certificate))
        {
            return null;
        }

        var problems = chain.ChainStatus.Select(status => status.Status.ToString()).Distinct(StringComparer.Ordinal);
        return $"it does not chain to the trusted CA ({string.Join(", ", problems)})";
    }

    /// <summary>
    /// Writes <paramref name="text"/> to a new file that is readable by the owner only from the
    /// moment it exists (created 0600, never widened afterwards). An existing file is an error
    /// unless <paramref name="replace"/>; then it is deleted first, because opening it would keep
    /// its old permissions.
    /// </summary>
    public static void WriteOwnerOnly(string path, string text, bool replace)
    {
        if (replace)
        {
            File.Delete(path);
        }

        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }

        using var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options);
        writer.Write(text);
        writer.Flush();
        ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
    }

    private static bool NamesUsage(X509Certificate2 certificate, string usageOid)
    {
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509EnhancedKeyUsageExtension usage)
            {
                foreach (var oid in usage.EnhancedKeyUsages)
                {
                    if (oid.Value == usageOid)
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    private static string UsageName(string usageOid) => usageOid switch
    {
        ExtendedKeyUsage.ServerAuthentication => "serverAuth",
        ExtendedKeyUsage.ClientAuthentication => "clientAuth",
        _ => usageOid,
    };
}

/// <summary>Extended key usage OIDs (RFC 5280, 4.2.1.12).</summary>
public static class ExtendedKeyUsage
{
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";
}
