using Xunit;

namespace NovaStor.Conformance.KernelHost;

/// <summary>
/// The QEMU guest with Debian's kernel, nvme-cli and fio, built once per test run by
/// tests/conformance/guest/build-guest.sh (cached: a second build is a no-op). A missing
/// prerequisite fails the tests; test.sh installs them.
/// </summary>
public sealed class GuestImage : IAsyncLifetime
{
    private static readonly TimeSpan BuildLimit = TimeSpan.FromMinutes(10);

    public string Directory => RepositoryPaths.GuestImage;

    public string BuildLog { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var result = await ProcessRunner.RunAsync(
            Path.Combine(RepositoryPaths.GuestScripts, "build-guest.sh"), [Directory], BuildLimit);
        BuildLog = result.Output;
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"Building the QEMU guest failed (exit {result.ExitCode}). Run ./test.sh (it installs qemu-system-x86, nvme-cli, fio ...) or scripts/install-prereqs.sh as root.\n{result.Output}");
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

[CollectionDefinition(Name)]
public sealed class KernelHostCollection : ICollectionFixture<GuestImage>
{
    /// <summary>One collection: guests boot one after another, never two at once on a 2-core machine.</summary>
    public const string Name = "Linux kernel host";
}
