using NovaStor.Target.Tests;
using Xunit.Abstractions;

namespace NovaStor.Conformance.KernelHost;

/// <summary>
/// Boots the guest with one scenario script against a target started here on 127.0.0.1. The
/// guest reaches it as 10.0.2.2 (QEMU user networking). Scenario scripts take their settings from
/// variables set at the top of the script: TARGET, PORT, NQN, and CONNECT_OPTIONS (added to every
/// nvme connect, e.g. digests).
/// </summary>
internal sealed class KernelHostScenario(GuestImage guest, ITestOutputHelper output)
{
    /// <summary>A guest line asking the host to restart the target (the scenario then waits for it).</summary>
    public const string RestartMarker = "NOVASTOR-RESTART-TARGET";

    private static readonly TimeSpan BootLimit = TimeSpan.FromMinutes(6);

    public async Task<GuestRun> RunAsync(string scenario, RunningTarget target, string connectOptions = "")
    {
        string name = connectOptions.Length == 0 ? scenario : $"{scenario} {connectOptions}";
        if (Environment.GetEnvironmentVariable("NovaStor__Engine") is { Length: > 0 } engine)
        {
            name += $" (engine {engine})";
        }

        string script = Path.Combine(target.DataDirectory, scenario);
        string body = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Scenarios, scenario));
        string library = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Scenarios, "lib.sh"));
        string preamble = $"""
            #!/bin/sh
            TARGET=10.0.2.2
            PORT={target.Port}
            NQN={RunningTarget.DefaultNqn}
            CONNECT_OPTIONS="{connectOptions}"

            """;
        await File.WriteAllTextAsync(script, preamble + library + "\n" + body);

        Task restart = Task.CompletedTask;
        void OnLine(string line)
        {
            output.WriteLine(line);
            if (line.Contains(RestartMarker, StringComparison.Ordinal) && !line.Contains("echo", StringComparison.Ordinal))
            {
                restart = RestartAsync(target);
            }
        }

        var result = await ProcessRunner.RunAsync(
            Path.Combine(RepositoryPaths.GuestScripts, "run-scenario.sh"),
            [guest.Directory, script, ((int)BootLimit.TotalSeconds - 30).ToString(System.Globalization.CultureInfo.InvariantCulture)],
            BootLimit,
            OnLine);
        await restart;

        var run = new GuestRun(result.ExitCode, result.TimedOut, result.Output);
        ReportKernelWarnings(name, run);
        return run;
    }

    /// <summary>Stops the target, keeps it down long enough for the guest to see it gone, and starts it again.</summary>
    private async Task RestartAsync(RunningTarget target)
    {
        output.WriteLine("[host] restarting the target");
        await target.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        await target.StartAgainAsync();
        output.WriteLine("[host] target restarted");
    }

    /// <summary>What the Linux host logged about NVMe trouble goes to the test output and artifacts/kernel-host-warnings.log.</summary>
    private void ReportKernelWarnings(string scenario, GuestRun run)
    {
        var warnings = run.NvmeKernelWarnings;
        string summary = $"[{scenario}] guest kernel NVMe warnings: {(warnings.Count == 0 ? "none" : string.Join(Environment.NewLine + "    ", warnings.Prepend("")))}";
        output.WriteLine(summary);
        string artifacts = Path.Combine(RepositoryPaths.Root, "artifacts");
        Directory.CreateDirectory(artifacts);
        File.AppendAllText(Path.Combine(artifacts, "kernel-host-warnings.log"), summary + Environment.NewLine);
    }
}
