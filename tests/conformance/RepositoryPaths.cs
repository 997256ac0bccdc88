namespace NovaStor.Conformance;

/// <summary>Where the repository's scripts are: found from the test assembly by walking up to NovaStor.sln.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string GuestScripts => Path.Combine(Root, "tests", "conformance", "guest");
    public static string Scenarios => Path.Combine(Root, "tests", "conformance", "scenarios");

    /// <summary>The built guest (kernel + initramfs): NOVASTOR_GUEST_DIR, or .guest-cache in the repository.</summary>
    public static string GuestImage => Environment.GetEnvironmentVariable("NOVASTOR_GUEST_DIR") is { Length: > 0 } dir
        ? dir
        : Path.Combine(Root, ".guest-cache");

    /// <summary>The guest with the 6.12 kernel: NOVASTOR_GUEST_612_DIR, or .guest-cache-6.12 in the repository.</summary>
    public static string NewerGuestImage => Environment.GetEnvironmentVariable("NOVASTOR_GUEST_612_DIR") is { Length: > 0 } dir
        ? dir
        : Path.Combine(Root, ".guest-cache-6.12");

    /// <summary>The NativeAOT programs for the guest (scripts/publish-guest-tools.sh): NOVASTOR_GUEST_TOOLS_DIR, or artifacts/guest-tools.</summary>
    public static string GuestTools => Environment.GetEnvironmentVariable("NOVASTOR_GUEST_TOOLS_DIR") is { Length: > 0 } dir
        ? dir
        : Path.Combine(Root, "artifacts", "guest-tools");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NovaStor.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"NovaStor.sln not found above {AppContext.BaseDirectory}");
    }
}
