using System.Diagnostics;
using System.Globalization;
using NovaStor.Target.Tests;

namespace NovaStor.Conformance.Container;

/// <summary>
/// The image's target in a container on the host's network, listening on 127.0.0.1 only
/// (NOVASTOR_LISTEN_ADDRESS) at ports of its own, with its data directory bind-mounted from a
/// temporary folder owned by the image's user (uid 1654). Replace keeps the folder and runs a new
/// container on it; Dispose removes the container and the folder.
/// </summary>
internal sealed class TargetContainer : IAsyncDisposable
{
    private static readonly TimeSpan CommandLimit = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(90);

    /// <summary>The image's user and group (uid/gid 1654, 'app' in the official .NET images).</summary>
    public const int ImageUser = 1654;

    /// <summary>What the target logs once its NVMe/TCP listener is open.</summary>
    public const string ListeningLine = "NVMe/TCP listening on";

    private readonly string _image;
    private readonly string[] _options;

    private TargetContainer(string image, string[] options, int owner)
    {
        _image = image;
        _options = options;
        DataDirectory = Path.Combine(Path.GetTempPath(), "novastor-container-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(DataDirectory);
        // The image runs as uid/gid 1654 ('app' in the official .NET images): the folder is its own
        // (or root's, for a container run as root without CAP_DAC_OVERRIDE).
        Chown(DataDirectory, owner, owner);
    }

    public string Name { get; private set; } = "";

    /// <summary>The NVMe/TCP port on the host's 127.0.0.1.</summary>
    public int Port { get; private set; } = RunningTarget.FreePort();

    /// <summary>The bind-mounted data directory (/var/lib/novastor in the container).</summary>
    public string DataDirectory { get; }

    /// <summary>The logs of every container this object ran, oldest first (the current one last).</summary>
    public string Logs { get; private set; } = "";

    /// <summary>The current container's logs alone.</summary>
    public string CurrentLogs { get; private set; } = "";

    /// <summary>Runs a container of <paramref name="image"/>; <paramref name="options"/> are more podman run options (a seccomp profile, environment).</summary>
    public static Task<TargetContainer> StartAsync(string image, params string[] options) => StartAsync(image, ImageUser, options);

    /// <summary>As <see cref="StartAsync(string, string[])"/>, with a data folder owned by <paramref name="owner"/> (uid and gid).</summary>
    public static async Task<TargetContainer> StartAsync(string image, int owner, params string[] options)
    {
        var container = new TargetContainer(image, options, owner);
        try
        {
            await container.RunAsync();
        }
        catch
        {
            await container.DisposeAsync();
            throw;
        }

        return container;
    }

    private async Task RunAsync()
    {
        // A free port can be taken by another test process before the container binds it (the
        // host network is shared): then the container exits saying so, and runs again on others.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await RunOnceAsync();
                return;
            }
            catch (InvalidOperationException) when (attempt < 3 && CurrentLogs.Contains("address already in use", StringComparison.Ordinal))
            {
                await Podman.RunAsync(CommandLimit, "rm", "-f", Name);
                Port = RunningTarget.FreePort();
            }
        }
    }

    private async Task RunOnceAsync()
    {
        Name = Podman.UniqueName("novastor-target");
        // Control plane and metrics stay on loopback (the image's default) at free ports: the host
        // network is shared with the rest of the test run.
        string[] environment =
        [
            "-e", "NOVASTOR_LISTEN_ADDRESS=127.0.0.1",
            "-e", $"NovaStor__Port={Port}",
            "-e", $"NovaStor__ControlPlane__Port={RunningTarget.FreePort()}",
            "-e", $"NovaStor__Metrics__Port={RunningTarget.FreePort()}",
        ];
        await Podman.CheckedAsync(CommandLimit,
        [
            "run", "-d", "--name", Name, "--network", "host", .. Podman.Limits,
            "-v", $"{DataDirectory}:/var/lib/novastor", .. environment, .. _options, _image,
        ]);
        await WaitForLogAsync(ListeningLine, StartLimit);
    }

    /// <summary>Waits until the current container's log has <paramref name="text"/>; fails with the log if it stops or the time runs out.</summary>
    public async Task WaitForLogAsync(string text, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            await RefreshLogsAsync();
            if (CurrentLogs.Contains(text, StringComparison.Ordinal))
            {
                return;
            }

            string state = (await Podman.RunAsync(CommandLimit, "inspect", "--format", "{{.State.Status}}", Name)).Output.Trim();
            if (!state.Contains("running", StringComparison.Ordinal) || clock.Elapsed > limit)
            {
                throw new InvalidOperationException($"container {Name} ({state}) did not log '{text}' within {clock.Elapsed.TotalSeconds:F0} s:\n{CurrentLogs}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }
    }

    /// <summary>Reads the current container's log (podman's own complaints about systemd timers left out).</summary>
    public async Task RefreshLogsAsync()
    {
        var result = await Podman.RunAsync(CommandLimit, "logs", Name);
        CurrentLogs = string.Join('\n', result.Output.Split('\n').Where(line => !line.Contains("level=error msg=\"unable to get systemd connection", StringComparison.Ordinal)));
    }

    /// <summary>Stops and removes the container (SIGTERM, then SIGKILL after 10 s), keeps the data folder, waits, and runs a new container of the same image on it.</summary>
    public async Task ReplaceAsync(TimeSpan down)
    {
        await RemoveAsync();
        await Task.Delay(down);
        await RunAsync();
    }

    /// <summary>The health check the image declares, run now: its exit code (0 healthy) and what it printed.</summary>
    public async Task<(int ExitCode, string Output)> HealthCheckAsync()
    {
        var result = await Podman.RunAsync(TimeSpan.FromSeconds(60), "healthcheck", "run", Name);
        return (result.ExitCode, result.Output);
    }

    public Task SignalAsync(string signal) => Podman.CheckedAsync(CommandLimit, "kill", "--signal", signal, Name);

    private async Task RemoveAsync()
    {
        if (Name.Length == 0)
        {
            return;
        }

        await Podman.RunAsync(CommandLimit, "stop", "-t", "10", Name);
        await RefreshLogsAsync();
        Logs += $"--- container {Name}\n{CurrentLogs}\n";
        await Podman.RunAsync(CommandLimit, "rm", "-f", Name);
        Name = "";
    }

    public async ValueTask DisposeAsync()
    {
        await RemoveAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void Chown(string path, int user, int group)
    {
        var result = ProcessRunnerSync("chown", $"{user.ToString(CultureInfo.InvariantCulture)}:{group.ToString(CultureInfo.InvariantCulture)}", path);
        if (result != 0)
        {
            throw new InvalidOperationException($"chown {user}:{group} {path} failed (exit {result}): the container tests run as root");
        }
    }

    private static int ProcessRunnerSync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        process.WaitForExit();
        return process.ExitCode;
    }
}
