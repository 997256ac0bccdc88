using Xunit;

namespace NovaStor.Conformance.KernelHost;

/// <summary>
/// The QEMU guest with Debian's kernel, nvme-cli and fio, built once per test run by
/// tests/conformance/guest/build-guest.sh (cached: a second build is a no-op). A missing
/// prerequisite fails the tests; test.sh installs them.
/// </summary>
public class GuestImage : IAsyncLifetime
{
    private static readonly TimeSpan BuildLimit = TimeSpan.FromMinutes(10);

    public virtual string Directory => RepositoryPaths.GuestImage;

    /// <summary>What build-guest.sh is told besides the folder (the kernel to follow, extra modules).</summary>
    protected virtual IDictionary<string, string>? BuildEnvironment => null;

    public string BuildLog { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var result = await ProcessRunner.RunAsync(
            Path.Combine(RepositoryPaths.GuestScripts, "build-guest.sh"), [Directory], BuildLimit, environment: BuildEnvironment);
        BuildLog = result.Output;
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"Building the QEMU guest failed (exit {result.ExitCode}). Run ./test.sh (it installs qemu-system-x86, nvme-cli, fio ...) or scripts/install-prereqs.sh as root.\n{result.Output}");
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// The same guest with Debian 12's newer kernel (6.12): DH-HMAC-CHAP in the host and in nvmet, and
/// ublk, which 6.1 lacks (../shared/KERNEL-VM.md). Built into its own folder: NOVASTOR_GUEST_612_DIR,
/// or .guest-cache-6.12 in the repository.
/// </summary>
public sealed class NewerGuestImage : GuestImage
{
    public const string KernelMetapackage = "linux-image-6.12-amd64";

    public override string Directory => RepositoryPaths.NewerGuestImage;

    protected override IDictionary<string, string>? BuildEnvironment => new Dictionary<string, string>
    {
        ["NOVASTOR_GUEST_KERNEL_META"] = KernelMetapackage,
        ["NOVASTOR_GUEST_EXTRA_MODULES"] = "ublk_drv",
    };
}

[CollectionDefinition(Name)]
public sealed class KernelHostCollection : ICollectionFixture<GuestImage>, ICollectionFixture<NewerGuestImage>
{
    /// <summary>One collection: guests boot one after another, never two at once on a 2-core machine.</summary>
    public const string Name = "Linux kernel host";
}
