using System.Net;
using Microsoft.AspNetCore.Builder;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.Tests;

/// <summary>
/// A target running in this process on 127.0.0.1 and a free port, over volumes in a temporary
/// folder. Restartable on the same folder and port, to check what survives a restart.
/// </summary>
public sealed class RunningTarget : IAsyncDisposable
{
    private WebApplication? _app;

    private RunningTarget(string dataDirectory, int port, string[] extraArguments)
    {
        DataDirectory = dataDirectory;
        Port = port;
        ExtraArguments = extraArguments;
    }

    public string DataDirectory { get; }
    public int Port { get; }
    public string[] ExtraArguments { get; }
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public const string DefaultNqn = EmbeddedDefault.SubsystemNqn;

    /// <summary>The running target's services (its subsystem registry, for state hosts cannot see).</summary>
    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("The target is not running.");

    /// <summary>Starts a target; <paramref name="extraArguments"/> are configuration switches (--NovaStor:...=...).</summary>
    public static Task<RunningTarget> StartAsync(params string[] extraArguments) => StartAsync(static _ => { }, extraArguments);

    /// <summary>Starts a target after <paramref name="prepare"/> has put files in its (new, empty) data folder.</summary>
    public static async Task<RunningTarget> StartAsync(Action<string> prepare, params string[] extraArguments)
    {
        var target = Create(extraArguments);
        prepare(target.DataDirectory);
        try
        {
            await target.StartAgainAsync();
        }
        catch
        {
            await target.DisposeAsync();
            throw;
        }

        return target;
    }

    /// <summary>A target not started yet: a fresh data folder and a free port.</summary>
    public static RunningTarget Create(params string[] extraArguments)
    {
        string directory = Path.Combine(Path.GetTempPath(), "novastor-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return new RunningTarget(directory, FreePort(), extraArguments);
    }

    /// <summary>Starts the target (again) on its folder and port; <paramref name="moreArguments"/> override the first ones.</summary>
    public async Task StartAgainAsync(params string[] moreArguments)
    {
        // The control plane and metrics endpoints have fixed default ports: tests that want them
        // turn them on with ports of their own (later switches win).
        string[] args = [$"--NovaStor:Port={Port}", $"--NovaStor:DataDirectory={DataDirectory}", "--Logging:LogLevel:Default=Warning",
            "--NovaStor:ControlPlane:Enabled=false", "--NovaStor:Metrics:Enabled=false", .. ExtraArguments, .. moreArguments];
        _app = TargetHost.Build(args);
        await _app.StartAsync();
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A loopback TCP port nothing listens on now, outside the ephemeral range (<see cref="LoopbackPorts"/>).</summary>
    public static int FreePort() => LoopbackPorts.Free();
}
