using NovaStor.Target.Tests;
using Microsoft.Extensions.DependencyInjection;
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

    /// <summary>"NOVASTOR-ANA-STATE PORTID GROUP STATE": the host sets an ANA group's state on one of the target's ports.</summary>
    public const string AnaStateMarker = "NOVASTOR-ANA-STATE ";

    /// <summary>"NOVASTOR-STOP-LISTENER PORTID": the host stops one of the target's listeners; the others keep serving.</summary>
    public const string StopListenerMarker = "NOVASTOR-STOP-LISTENER ";

    /// <summary>
    /// "NOVASTOR-CLI ARGS...": the host runs the novastor CLI with those arguments against the
    /// target's control plane (mutual TLS, the development certificates in its data folder).
    /// </summary>
    public const string CliMarker = "NOVASTOR-CLI ";

    private static readonly TimeSpan BootLimit = TimeSpan.FromMinutes(6);

    /// <param name="variables">More shell variables for the scenario (e.g. PORT2, a second listener).</param>
    /// <param name="nqn">The subsystem the scenario's $NQN names (the target's default subsystem when null).</param>
    /// <param name="controlPlanePort">The target's control plane, for <see cref="CliMarker"/> lines.</param>
    /// <param name="setup">What else the run needs: port forwards, files, a longer limit, host actions of the caller's.</param>
    public async Task<GuestRun> RunAsync(string scenario, RunningTarget target, string connectOptions = "", IReadOnlyDictionary<string, string>? variables = null,
        string? nqn = null, int? controlPlanePort = null, GuestSetup? setup = null)
    {
        string name = connectOptions.Length == 0 ? scenario : $"{scenario} {connectOptions}";
        if (Environment.GetEnvironmentVariable("NovaStor__Engine") is { Length: > 0 } engine)
        {
            name += $" (engine {engine})";
        }

        // Host actions the guest asks for, by the line that asks.
        Func<Task>? Action(string line)
        {
            if (setup?.Actions?.Invoke(line) is { } callers)
            {
                return callers;
            }

            if (line.Contains(RestartMarker, StringComparison.Ordinal))
            {
                return () => RestartAsync(target);
            }

            if (line.IndexOf(AnaStateMarker, StringComparison.Ordinal) is >= 0 and int ana)
            {
                string[] words = line[(ana + AnaStateMarker.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return () =>
                {
                    SetAnaState(target, words);
                    return Task.CompletedTask;
                };
            }

            if (line.IndexOf(CliMarker, StringComparison.Ordinal) is >= 0 and int cli && controlPlanePort is int cp)
            {
                string[] words = line[(cli + CliMarker.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return () => RunCliAsync(target, cp, words);
            }

            if (line.IndexOf(StopListenerMarker, StringComparison.Ordinal) is >= 0 and int stop)
            {
                ushort port = ushort.Parse(line[(stop + StopListenerMarker.Length)..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                return () => StopListenerAsync(target, port);
            }

            return null;
        }

        return await RunCoreAsync(name, scenario, target.Port, nqn ?? RunningTarget.DefaultNqn, connectOptions, variables, target.DataDirectory, Action, setup);
    }

    /// <summary>
    /// Runs a scenario against a target this process does not host (a container on the host's
    /// network): the guest reaches it on the host's 127.0.0.1:<paramref name="port"/>, and a
    /// <see cref="RestartMarker"/> line runs <paramref name="restart"/>, which must take the target
    /// down for a few seconds and bring it back.
    /// </summary>
    /// <param name="scriptDirectory">A folder of the caller's for the scenario file.</param>
    public Task<GuestRun> RunAsync(string scenario, string name, int port, string nqn, string scriptDirectory, Func<Task> restart) =>
        RunCoreAsync(name, scenario, port, nqn, "", null, scriptDirectory,
            line => line.Contains(RestartMarker, StringComparison.Ordinal) ? restart : null);

    private async Task<GuestRun> RunCoreAsync(string name, string scenario, int port, string nqn, string connectOptions,
        IReadOnlyDictionary<string, string>? variables, string scriptDirectory, Func<string, Func<Task>?> hostAction, GuestSetup? setup = null)
    {
        var limit = setup?.Limit ?? BootLimit;
        string script = Path.Combine(scriptDirectory, scenario);
        string body = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Scenarios, scenario));
        string library = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Scenarios, "lib.sh"));
        string preamble = $"""
            #!/bin/sh
            TARGET=10.0.2.2
            PORT={port}
            NQN={nqn}
            CONNECT_OPTIONS="{connectOptions}"
            {string.Join('\n', (variables ?? new Dictionary<string, string>()).Select(v => $"{v.Key}={v.Value}"))}

            """;
        await File.WriteAllTextAsync(script, preamble + library + "\n" + body);

        // Host actions the guest asks for, one after the other, in the order asked.
        Task actions = Task.CompletedTask;
        void OnLine(string line)
        {
            output.WriteLine(line);
            if (line.Contains("echo", StringComparison.Ordinal))
            {
                return;
            }

            if (hostAction(line) is { } action)
            {
                actions = actions.ContinueWith(_ => action(), TaskScheduler.Default).Unwrap();
            }
        }

        ProcessRunner.Result result;
        for (int boot = 1; ; boot++)
        {
            result = await ProcessRunner.RunAsync(
                Path.Combine(RepositoryPaths.GuestScripts, "run-scenario.sh"),
                [guest.Directory, script, ((int)limit.TotalSeconds - 30).ToString(System.Globalization.CultureInfo.InvariantCulture)],
                limit,
                OnLine,
                setup?.Environment);
            if (boot >= 2 || !DiedBooting(result.Output))
            {
                break;
            }

            // The emulated kernel crashed before the scenario began (seen once with 6.12 under
            // TCG: an int3 oops while patching its own code at boot). Nothing of ours ran yet.
            output.WriteLine($"{name}: the guest kernel crashed while booting, before the scenario started; booting it again");
        }

        await actions;

        var run = new GuestRun(result.ExitCode, result.TimedOut, result.Output);
        ReportKernelWarnings(name, run);
        return run;
    }

    /// <summary>The guest kernel oopsed or panicked before init said the guest was ready.</summary>
    private static bool DiedBooting(string console) =>
        !console.Contains("NOVASTOR-GUEST-READY", StringComparison.Ordinal)
        && (console.Contains("Oops:", StringComparison.Ordinal) || console.Contains("Kernel panic", StringComparison.Ordinal));

    private void SetAnaState(RunningTarget target, string[] words)
    {
        ushort port = ushort.Parse(words[0], System.Globalization.CultureInfo.InvariantCulture);
        uint group = uint.Parse(words[1], System.Globalization.CultureInfo.InvariantCulture);
        var state = Enum.Parse<NovaStor.Protocol.AnaState>(words[2], ignoreCase: true);
        target.Services.GetRequiredService<NovaStor.Target.Hosting.ListenerControl>().SetAnaState(port, group, state);
        output.WriteLine($"[host] ANA group {group} on port {port}: {state}");
    }

    /// <summary>The novastor CLI, in process, as an operator runs it; a failure shows in the test output and the guest then times out waiting.</summary>
    private async Task RunCliAsync(RunningTarget target, int controlPlanePort, string[] words)
    {
        var (code, text) = await CliAsync(target, controlPlanePort, words);
        output.WriteLine($"[host] novastor {string.Join(' ', words)}: exit {code}\n{text}");
    }

    /// <summary>Runs the novastor CLI against <paramref name="target"/>'s control plane (its development certificates); the exit code and what it printed.</summary>
    public static async Task<(int ExitCode, string Output)> CliAsync(RunningTarget target, int controlPlanePort, params string[] words)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        string[] args = [.. words, "--control-plane", $"https://127.0.0.1:{controlPlanePort}", "--data", target.DataDirectory];
        int code = await NovaStor.Cli.Cli.RunAsync(args, stdout, stderr).WaitAsync(TimeSpan.FromSeconds(60));
        return (code, stdout.ToString() + stderr);
    }

    private async Task StopListenerAsync(RunningTarget target, ushort port)
    {
        await target.Services.GetRequiredService<NovaStor.Target.Hosting.ListenerControl>().StopListenerAsync(port);
        output.WriteLine($"[host] listener of port {port} stopped");
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

/// <summary>
/// More for one guest run: run-scenario.sh's environment (NOVASTOR_GUEST_HOSTFWD port forwards,
/// NOVASTOR_GUEST_EXTRA_DIR files), a time limit other than six minutes, and host actions of the
/// caller's, chosen by the console line that asks for them (tried before the built-in markers).
/// </summary>
internal sealed record GuestSetup(
    IDictionary<string, string>? Environment = null,
    TimeSpan? Limit = null,
    Func<string, Func<Task>?>? Actions = null);
