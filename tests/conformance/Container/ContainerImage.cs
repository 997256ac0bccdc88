using NovaStor.Conformance.KernelHost;
using Xunit;

namespace NovaStor.Conformance.Container;

/// <summary>
/// The repository's Dockerfile built once per test run with podman, under a tag of its own
/// (removed afterwards). No registry is reachable here, so the base images are local stand-ins for
/// the official ones (tests/container/build-bases.sh: Debian minbase, plus this machine's .NET
/// runtime for the aspnet base and its whole SDK for the sdk base), passed as the Dockerfile's
/// build arguments. The build stage is the real one: it restores from the NuGet feed (host
/// network, the machine's CA certificates and its NuGet package folder mounted for the build) and
/// runs dotnet publish. Layers are cached by podman between runs; base images and the Debian root
/// file system are cached by build-bases.sh. A missing prerequisite (podman, runc, debootstrap)
/// fails the tests: test.sh installs them.
/// </summary>
public class ContainerImage : IAsyncLifetime
{
    private static readonly TimeSpan BaseLimit = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan BuildLimit = TimeSpan.FromMinutes(10);

    /// <summary>The image under test.</summary>
    public string Tag { get; } = "localhost/" + Podman.UniqueName("novastor-test") + ":test";

    /// <summary>The Dockerfile stage to build (--target); null: the last one, the target's image.</summary>
    protected virtual string? Stage => null;

    /// <summary>The Debian base alone (perl included), for system-call checks under a seccomp profile.</summary>
    public string BaseImage { get; private set; } = "";

    /// <summary>Where the Debian root file system and the lock live: NOVASTOR_CONTAINER_CACHE, or .container-cache in the repository.</summary>
    public static string CacheDirectory => Environment.GetEnvironmentVariable("NOVASTOR_CONTAINER_CACHE") is { Length: > 0 } dir
        ? dir
        : Path.Combine(RepositoryPaths.Root, ".container-cache");

    public string BuildLog { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var bases = await ProcessRunner.RunAsync(Path.Combine(RepositoryPaths.Root, "tests", "container", "build-bases.sh"), [CacheDirectory], BaseLimit);
        if (bases.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"Making the local base images failed (exit {bases.ExitCode}). Run ./test.sh (it installs podman, runc, debootstrap) or scripts/install-prereqs.sh as root.\n{bases.Output}");
        }

        string[] images = [.. bases.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(line => line.StartsWith("localhost/", StringComparison.Ordinal))];
        BaseImage = images.Single(image => image.StartsWith("localhost/novastor-base:", StringComparison.Ordinal));
        string runtime = images.Single(image => image.StartsWith("localhost/novastor-aspnet:", StringComparison.Ordinal));
        string sdk = images.Single(image => image.StartsWith("localhost/novastor-sdk:", StringComparison.Ordinal));

        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        Directory.CreateDirectory(packages);
        // --format docker keeps HEALTHCHECK (the OCI image format has no field for it).
        var build = await Podman.RunAsync(BuildLimit,
        [
            "build", "--format", "docker", "--network", "host", .. Podman.Limits,
            "-v", $"{packages}:/root/.nuget/packages",
            "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",
            "--build-arg", $"SDK_IMAGE={sdk}",
            "--build-arg", $"RUNTIME_IMAGE={runtime}",
            .. Stage is { } stage ? ["--target", stage] : Array.Empty<string>(),
            "-t", Tag, "-f", Path.Combine(RepositoryPaths.Root, "Dockerfile"), RepositoryPaths.Root,
        ]);
        BuildLog = build.Output;
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"podman build of the Dockerfile failed (exit {build.ExitCode}{(build.TimedOut ? ", timed out" : "")}):\n{build.Output}");
        }
    }

    public async Task DisposeAsync() => await Podman.RunAsync(TimeSpan.FromMinutes(2), "rmi", "-f", Tag);
}

/// <summary>The CSI driver's image: the Dockerfile's csi stage, built the same way.</summary>
public sealed class CsiImage : ContainerImage
{
    protected override string? Stage => "csi";
}
