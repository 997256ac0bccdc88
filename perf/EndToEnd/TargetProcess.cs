using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace NovaStor.EndToEnd;

/// <summary>
/// The target as users run it: its own process (Release build), serving the rung's namespaces
/// (<see cref="NamespaceArguments"/>) on 127.0.0.1 and a free port. Killed on dispose.
/// </summary>
public sealed class TargetProcess : IDisposable
{
    public const string Nqn = "nqn.2026-11.io.novastor:end-to-end";
    public const int BlockSize = 4096;

    private readonly Process _process;
    private readonly string _dataDirectory;

    private TargetProcess(Process process, int port, string dataDirectory)
    {
        _process = process;
        Port = port;
        _dataDirectory = dataDirectory;
    }

    public int Port { get; }

    public int Pid => _process.Id;

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>
    /// The configuration of the rung's namespaces, 4096-byte blocks: <paramref name="volumeFile"/>
    /// as namespace 1 (when given), a Memory namespace of <paramref name="memoryBytes"/> as
    /// namespace 2 and a Null namespace of the same size as namespace 3 (when given).
    /// </summary>
    public static List<string> NamespaceArguments(string? volumeFile, long fileBytes, long? memoryBytes)
    {
        const string Namespaces = "--NovaStor:Subsystems:0:Namespaces";
        List<string> arguments = [];
        if (volumeFile is not null)
        {
            arguments.AddRange([
                $"{Namespaces}:0:Id={RungRow.FileNamespaceId}",
                $"{Namespaces}:0:Volume=end-to-end",
                $"{Namespaces}:0:Path={volumeFile}",
                $"{Namespaces}:0:SizeBytes={fileBytes}",
                $"{Namespaces}:0:BlockSize={BlockSize}"]);
        }

        if (memoryBytes is { } bytes)
        {
            int index = volumeFile is null ? 0 : 1;
            arguments.AddRange([
                $"{Namespaces}:{index}:Id={RungRow.MemoryNamespaceId}",
                $"{Namespaces}:{index}:Volume=end-to-end-memory",
                $"{Namespaces}:{index}:Backend=Memory",
                $"{Namespaces}:{index}:SizeBytes={bytes}",
                $"{Namespaces}:{index}:BlockSize={BlockSize}",
                $"{Namespaces}:{index + 1}:Id={RungRow.NullNamespaceId}",
                $"{Namespaces}:{index + 1}:Volume=end-to-end-null",
                $"{Namespaces}:{index + 1}:Backend=Null",
                $"{Namespaces}:{index + 1}:SizeBytes={bytes}",
                $"{Namespaces}:{index + 1}:BlockSize={BlockSize}"]);
        }

        return arguments;
    }

    /// <param name="label">Prefixes the target's error output ("target A: ...").</param>
    /// <exception cref="InvalidOperationException">The target did not start listening within a minute.</exception>
    public static TargetProcess Start(string label, string targetDll, IReadOnlyList<string> namespaceArguments, IReadOnlyList<string> extraArguments)
    {
        if (!File.Exists(targetDll))
        {
            throw new InvalidOperationException($"The target is not built: {targetDll} is missing (perf/end-to-end.sh builds it).");
        }

        int port = FreePort();
        string data = Directory.CreateTempSubdirectory("novastor-e2e-data-").FullName;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])[
            targetDll,
            $"--NovaStor:Port={port}",
            $"--NovaStor:DataDirectory={data}",
            "--NovaStor:ControlPlane:Enabled=false",
            "--NovaStor:Metrics:Enabled=false",
            $"--NovaStor:Subsystems:0:Nqn={Nqn}",
            "--NovaStor:Subsystems:0:AllowAnyHost=true",
            .. namespaceArguments,
            "--Logging:LogLevel:Default=Warning",
            .. extraArguments])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet could not be started.");
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine($"target {label}: {e.Data}");
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var target = new TargetProcess(process, port, data);
        var deadline = Stopwatch.StartNew();
        while (!target.Accepts())
        {
            if (process.HasExited || deadline.Elapsed > TimeSpan.FromMinutes(1))
            {
                target.Dispose();
                throw new InvalidOperationException($"Target {label} did not listen on 127.0.0.1:{port} (exit code {(process.HasExited ? process.ExitCode : "none")}).");
            }

            Thread.Sleep(200);
        }

        return target;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _ = _process.WaitForExit(10_000);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private bool Accepts()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Below the ephemeral range, where no connect() can take it before the target binds it (the suite's picker).</summary>
    private static int FreePort() => NovaStor.Target.Tests.LoopbackPorts.Free();
}
