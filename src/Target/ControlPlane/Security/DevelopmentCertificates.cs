using NovaStor.ControlPlane;

namespace NovaStor.Target.ControlPlane.Security;

/// <summary>
/// The development credentials in <c>&lt;DataDirectory&gt;/control-plane/</c>: made once, on the
/// first start without configured certificates, and reused on every start after it (a client
/// keeps its certificate across restarts).
/// </summary>
internal static class DevelopmentCertificates
{
    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Makes the set in <paramref name="folder"/> unless it is there already. True when it was
    /// made now.
    /// </summary>
    /// <exception cref="InvalidOperationException">The folder holds part of a set, or a private key anyone but the owner may read.</exception>
    public static bool Ensure(string folder)
    {
        var present = CertificateSet.Existing(folder);
        if (present.Count == CertificateFiles.All.Count)
        {
            RefuseSharedKeys(folder);
            return false;
        }

        if (Directory.Exists(folder))
        {
            if (present.Count > 0 || Directory.EnumerateFileSystemEntries(folder).Any())
            {
                var missing = CertificateFiles.All.Except(present, StringComparer.Ordinal);
                throw new InvalidOperationException(
                    $"NovaStor:ControlPlane: the development certificate folder {folder} is incomplete (missing {string.Join(", ", missing)}). " +
                    $"Delete {folder} to have a new set made at the next start (clients then need the new client certificate), " +
                    "or configure certificates (NovaStor:ControlPlane:CertificateDirectory).");
            }

            // An empty folder (made by hand, say) is no set: it makes way for the new one.
            Directory.Delete(folder);
        }

        string parent = Path.GetDirectoryName(folder) ?? throw new InvalidOperationException($"{folder} has no parent folder.");
        Directory.CreateDirectory(parent);
        // Written aside and renamed into place, so that a crash half-way leaves no partial set
        // behind and two targets starting on one data folder end up with the same set.
        string staging = Path.Combine(parent, $".{Path.GetFileName(folder)}-{Guid.NewGuid():N}.partial");
        try
        {
            using (var set = CertificateSet.Create(new CertificateSetOptions { CaName = "NovaStor development CA" }))
            {
                set.WriteTo(staging, replace: false);
            }

            try
            {
                Directory.Move(staging, folder);
                return true;
            }
            catch (IOException) when (CertificateSet.Existing(folder).Count == CertificateFiles.All.Count)
            {
                // Another start on the same data folder was first.
                return false;
            }
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    private static void RefuseSharedKeys(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        foreach (string name in (string[])[CertificateFiles.CaKey, CertificateFiles.ServerKey, CertificateFiles.ClientKey])
        {
            string path = Path.Combine(folder, name);
            var mode = File.GetUnixFileMode(path);
            if ((mode & GroupOrOthers) != 0)
            {
                // As ssh does with an exposed key: refuse rather than serve with a secret others may have read.
                throw new InvalidOperationException(
                    $"NovaStor:ControlPlane: the development private key {path} is readable by others (mode {Convert.ToString((int)mode, 8)}). " +
                    $"Run 'chmod 600 {path}' if nobody else could have read it, or delete {folder} to have a new set made.");
            }
        }
    }
}
