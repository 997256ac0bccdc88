using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NovaStor.ControlPlane;

/// <summary>What <see cref="CertificateSet.Create"/> makes.</summary>
public sealed record CertificateSetOptions
{
    /// <summary>Leaves live 825 days unless told otherwise: the longest validity TLS clients have accepted for a server certificate since 2018.</summary>
    public const int DefaultLeafDays = 825;

    /// <summary>The CA lives ten years; leaves cannot outlive it, so this also bounds <see cref="LeafDays"/>.</summary>
    public const int CaYears = 10;

    public const string DefaultClientName = "novastor-admin";

    /// <summary>The names the server certificate is valid for, and no others.</summary>
    public IReadOnlyList<SubjectAlternativeName> ServerNames { get; init; } = SubjectAlternativeName.Loopback;

    /// <summary>The client certificate's subject CN.</summary>
    public string ClientName { get; init; } = DefaultClientName;

    /// <summary>How long the server and client certificates are valid, from now.</summary>
    public int LeafDays { get; init; } = DefaultLeafDays;

    /// <summary>The CA's subject CN, before a random suffix that tells two CAs of the same name apart.</summary>
    public string CaName { get; init; } = "NovaStor control plane CA";
}

/// <summary>
/// A control plane CA with a server and a client certificate it issued, all ECDSA P-256: the
/// shape the target serves with and every client presents. The target makes its development set
/// with it and <c>novastor certs create</c> an operator's.
/// </summary>
public sealed class CertificateSet : IDisposable
{
    /// <summary>Certificates start five minutes in the past, so a client whose clock is a little behind accepts them at once.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private CertificateSet(X509Certificate2 ca, X509Certificate2 server, X509Certificate2 client)
    {
        Ca = ca;
        Server = server;
        Client = client;
    }

    /// <summary>The CA, with its private key.</summary>
    public X509Certificate2 Ca { get; }

    /// <summary>The server certificate (EKU serverAuth), with its private key.</summary>
    public X509Certificate2 Server { get; }

    /// <summary>The client certificate (EKU clientAuth), with its private key.</summary>
    public X509Certificate2 Client { get; }

    /// <exception cref="ArgumentException">No server names, an empty client name, or a leaf validity outside 1 day .. <see cref="CertificateSetOptions.CaYears"/>.</exception>
    public static CertificateSet Create(CertificateSetOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ServerNames.Count == 0)
        {
            throw new ArgumentException("The server certificate needs at least one name.", nameof(options));
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(options.ClientName);
        var now = (time ?? TimeProvider.System).GetUtcNow();
        var notBefore = now - ClockSkew;
        var caNotAfter = notBefore.AddYears(CertificateSetOptions.CaYears);
        var leafNotAfter = now.AddDays(options.LeafDays);
        if (options.LeafDays < 1 || leafNotAfter > caNotAfter)
        {
            throw new ArgumentException($"Leaf certificates live 1 to {(caNotAfter - now).Days} days (the CA's ten years); {options.LeafDays} is outside that.", nameof(options));
        }

        X509Certificate2? ca = null;
        X509Certificate2? server = null;
        try
        {
            ca = CreateCa($"{options.CaName} {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}", notBefore, caNotAfter);
            server = CreateLeaf(ca, ServerSubject(options.ServerNames), ExtendedKeyUsage.ServerAuthentication, options.ServerNames, notBefore, leafNotAfter);
            var client = CreateLeaf(ca, new X500DistinguishedName($"CN={options.ClientName}"), ExtendedKeyUsage.ClientAuthentication, [], notBefore, leafNotAfter);
            return new CertificateSet(ca, server, client);
        }
        catch
        {
            ca?.Dispose();
            server?.Dispose();
            throw;
        }
    }

    /// <summary>Which of the set's files already exist in <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> Existing(string directory) =>
        [.. CertificateFiles.All.Where(name => File.Exists(Path.Combine(directory, name)) || Directory.Exists(Path.Combine(directory, name)))];

    /// <summary>
    /// Writes the six files (<see cref="CertificateFiles.All"/>) into <paramref name="directory"/>,
    /// each owner-only (0600) from its creation; a folder that does not exist yet is created 0700.
    /// Returns the paths written.
    /// </summary>
    /// <exception cref="IOException">A file exists and <paramref name="replace"/> is false (nothing after it is written).</exception>
    public IReadOnlyList<string> WriteTo(string directory, bool replace)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, CertificateFiles.OwnerOnlyFolder);
            }
        }

        var contents = new (string Name, string Pem)[]
        {
            (CertificateFiles.CaCertificate, Ca.ExportCertificatePem()),
            (CertificateFiles.CaKey, PrivateKeyPem(Ca)),
            (CertificateFiles.ServerCertificate, Server.ExportCertificatePem()),
            (CertificateFiles.ServerKey, PrivateKeyPem(Server)),
            (CertificateFiles.ClientCertificate, Client.ExportCertificatePem()),
            (CertificateFiles.ClientKey, PrivateKeyPem(Client)),
        };
        var written = new List<string>(contents.Length);
        foreach (var (name, pem) in contents)
        {
            string path = Path.Combine(directory, name);
            CertificateFiles.WriteOwnerOnly(path, pem + "\n", replace);
            written.Add(path);
        }

        return written;
    }

    public void Dispose()
    {
        Ca.Dispose();
        Server.Dispose();
        Client.Dispose();
    }

    private static X509Certificate2 CreateCa(string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}, O=NovaStor"), key, HashAlgorithmName.SHA256);
        // Path length 0: the CA issues the server and client certificates directly, never another CA.
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        using var unkeyed = request.Create(request.SubjectName, X509SignatureGenerator.CreateForECDsa(key), notBefore, notAfter, SerialNumber());
        return unkeyed.CopyWithPrivateKey(key);
    }

    private static X509Certificate2 CreateLeaf(X509Certificate2 ca, X500DistinguishedName subject, string usageOid, IReadOnlyList<SubjectAlternativeName> names, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        // ECDSA signs the TLS handshake; it never encrypts a key, so digital signature is the only use.
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usageOid)], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (names.Count > 0)
        {
            var alternativeNames = new SubjectAlternativeNameBuilder();
            foreach (var name in names)
            {
                name.AddTo(alternativeNames);
            }

            request.CertificateExtensions.Add(alternativeNames.Build(critical: false));
        }

        using var unkeyed = request.Create(ca, notBefore, notAfter, SerialNumber());
        return unkeyed.CopyWithPrivateKey(key);
    }

    private static X500DistinguishedName ServerSubject(IReadOnlyList<SubjectAlternativeName> names)
    {
        // Clients match the alternative names, not the CN; a DNS name there only makes the
        // certificate easier to recognise in a listing.
        string? dns = names.FirstOrDefault(name => name.DnsName is not null)?.DnsName;
        return new X500DistinguishedName($"CN={dns ?? "novastor-target"}, O=NovaStor");
    }

    /// <summary>128 random bits (CertificateRequest reads them as an unsigned integer; RFC 5280 allows up to 20 octets).</summary>
    private static byte[] SerialNumber() => RandomNumberGenerator.GetBytes(16);

    private static string PrivateKeyPem(X509Certificate2 certificate)
    {
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException($"{certificate.Subject} has no ECDSA private key.");
        return key.ExportPkcs8PrivateKeyPem();
    }
}
