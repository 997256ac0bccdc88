using Xunit;

namespace NovaStor.Conformance.KernelHost;

/// <summary>
/// A temporary folder holding some of the NativeAOT programs scripts/publish-guest-tools.sh made
/// (test.sh runs it; a missing one fails the test), to be copied into the guest as /extra
/// (run-scenario.sh's NOVASTOR_GUEST_EXTRA_DIR). Only the binaries named go into the initramfs.
/// </summary>
internal sealed class GuestTools : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("novastor-guest-tools-");

    public GuestTools(params string[] tools)
    {
        foreach (string tool in tools)
        {
            string published = Path.Combine(RepositoryPaths.GuestTools, tool);
            Assert.True(File.Exists(published), $"{published} is missing: scripts/publish-guest-tools.sh builds it (test.sh runs it)");
            File.Copy(published, Path.Combine(_folder.FullName, tool));
        }
    }

    /// <summary>The environment that puts the tools at /extra in the guest.</summary>
    public KeyValuePair<string, string> Environment => new("NOVASTOR_GUEST_EXTRA_DIR", _folder.FullName);

    public void Dispose() => _folder.Delete(recursive: true);
}
