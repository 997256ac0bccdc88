using System.Globalization;
using NovaStor.Conformance.KernelHost;

namespace NovaStor.Conformance.Container;

/// <summary>
/// podman as ../shared/CONTAINERS.md says it works on these machines: runc (crun refuses their
/// hybrid cgroups), the cgroupfs manager, and ulimits within the hard limits a process without
/// CAP_SYS_RESOURCE may set. Every call is bounded.
/// </summary>
internal static class Podman
{
    /// <summary>Global options, before the subcommand.</summary>
    private static readonly string[] Global = ["--runtime", "runc", "--cgroup-manager=cgroupfs"];

    /// <summary>Options of every build and run.</summary>
    public static readonly string[] Limits = ["--ulimit", "nofile=1024:4096", "--ulimit", "nproc=1024:4096"];

    public static Task<ProcessRunner.Result> RunAsync(TimeSpan limit, params string[] arguments) =>
        ProcessRunner.RunAsync("podman", [.. Global, .. arguments], limit);

    /// <summary>Runs podman and fails with its output unless it exits 0; returns what it printed.</summary>
    public static async Task<string> CheckedAsync(TimeSpan limit, params string[] arguments)
    {
        var result = await RunAsync(limit, arguments);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"podman {string.Join(' ', arguments)} exited {result.ExitCode}{(result.TimedOut ? " (timed out)" : "")}:\n{result.Output}");
        }

        return result.Output;
    }

    /// <summary>A name no earlier run used: containers and images of one test run never meet another's.</summary>
    public static string UniqueName(string prefix) =>
        $"{prefix}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..8]}";
}
