using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// The target in a child process (the NovaStor.Target build next to these tests), for
/// measurements that must see the initiator's process alone. Listens on 127.0.0.1, volumes in
/// a temporary folder; killed and cleaned up on dispose.
/// </summary>
internal sealed class ExternalTarget : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private ExternalTarget(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
    }

    public IPEndPoint EndPoint { get; }

    public static async Task<ExternalTarget> StartAsync()
    {
        string directory = Path.Combine(Path.GetTempPath(), "novastor-init-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        int port = FreePort();
        string dll = Path.Combine(AppContext.BaseDirectory, "NovaStor.Target.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { dll, $"--NovaStor:Port={port}", "--NovaStor:ListenAddress=127.0.0.1", $"--NovaStor:DataDirectory={directory}", "--Logging:LogLevel:Default=Warning" })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the target process");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var target = new ExternalTarget(process, directory, port);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(target.EndPoint);
                return target;
            }
            catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(30) && !process.HasExited)
            {
                await Task.Delay(100);
            }
            catch
            {
                await target.DisposeAsync();
                throw;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
