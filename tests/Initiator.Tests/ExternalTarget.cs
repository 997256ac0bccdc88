using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NovaStor.Target.Tests;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// The target in a child process (the NovaStor.Target build next to these tests), for
/// measurements that must see the initiator's process alone. Listens on 127.0.0.1, volumes in
/// a temporary folder; killed and cleaned up on dispose.
/// </summary>
internal sealed class ExternalTarget : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string[] _extraArguments;
    private Process _process;

    private ExternalTarget(Process process, string directory, int port, string[] extraArguments)
    {
        _process = process;
        _directory = directory;
        _extraArguments = extraArguments;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
    }

    public IPEndPoint EndPoint { get; }

    public string DataDirectory => _directory;

    /// <summary>Starts a target process; <paramref name="extraArguments"/> are configuration switches, kept for restarts.</summary>
    public static async Task<ExternalTarget> StartAsync(params string[] extraArguments)
    {
        string directory = Path.Combine(Path.GetTempPath(), "novastor-init-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        int port = RunningTarget.FreePort();
        var target = new ExternalTarget(Launch(directory, port, extraArguments), directory, port, extraArguments);
        await target.WaitUntilListeningAsync();
        return target;
    }

    /// <summary>SIGKILL: no shutdown code runs in the target; its data folder stays for <see cref="StartAgainAsync"/>.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }

    /// <summary>A new target process on the same data folder and port.</summary>
    public async Task StartAgainAsync()
    {
        _process = Launch(_directory, EndPoint.Port, _extraArguments);
        await WaitUntilListeningAsync();
    }

    private static Process Launch(string directory, int port, string[] extraArguments)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "NovaStor.Target.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[dll, $"--NovaStor:Port={port}", "--NovaStor:ListenAddress=127.0.0.1", $"--NovaStor:DataDirectory={directory}", "--Logging:LogLevel:Default=Warning", "--NovaStor:ControlPlane:Enabled=false", "--NovaStor:Metrics:Enabled=false", .. extraArguments])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the target process");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitUntilListeningAsync()
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(EndPoint);
                return;
            }
            catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(30) && !_process.HasExited)
            {
                await Task.Delay(100);
            }
            catch
            {
                await DisposeAsync();
                throw;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!HasExited(_process))
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static bool HasExited(Process process)
    {
        try
        {
            return process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true; // disposed after a kill
        }
    }
}
