using System.Security.Cryptography.X509Certificates;

namespace NovaStor.ControlPlane;

/// <summary>PEM certificate files and chain checks against the control plane's own CA.</summary>
public static class CertificateFiles
{
    /// <summary>A certificate with its private key, from two PEM files.</summary>
    public static X509Certificate2 LoadCertificateWithKey(string certificatePath, string keyPath)
    {
        // TODO(helper): ephemeral keys are refused by SslStream on some platforms; re-import as PKCS#12 if needed.
        return X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
    }

    /// <summary>Every certificate in a PEM file (a CA file may hold several).</summary>
    public static X509Certificate2Collection LoadCertificates(string path)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(path);
        if (certificates.Count == 0)
        {
            throw new InvalidOperationException($"{path} holds no PEM certificate.");
        }

        return certificates;
    }

    /// <summary>True when <paramref name="certificate"/> chains to one of <paramref name="roots"/> and may be used for <paramref name="usageOid"/>.</summary>
    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection roots, string usageOid)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(usageOid));
        return chain.Build(certificate);
    }
}

/// <summary>Extended key usage OIDs.</summary>
public static class X509Certificate2Ext
{
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";
}
