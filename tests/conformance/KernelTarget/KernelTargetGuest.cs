using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using NovaStor.Conformance.KernelHost;
using Xunit;

namespace NovaStor.Conformance.KernelTarget;

/// <summary>A namespace the guest's nvmet subsystem exports, as the guest reported it.</summary>
public sealed record KernelTargetNamespace(uint Id, int BlockSize, ulong Blocks);

/// <summary>
/// The Linux kernel NVMe/TCP target (nvmet-tcp, Debian's 6.1 kernel) in a QEMU guest, booted once
/// for a test class by tests/conformance/guest/run-target.sh. The guest's port 4420 is forwarded
/// from 127.0.0.1:<see cref="Port"/> only. A missing prerequisite or a guest that does not come up
/// fails the tests; QEMU is always stopped on dispose.
/// </summary>
public class KernelTargetGuest : IAsyncLifetime
{
    public const string ReadyMarker = "NOVASTOR-TARGET-READY";

    // TCG boots in ~15 s on 2 cores; the margin covers a loaded machine (a parallel build).
    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(20);

    // The guest also ends by itself after this, should the test process die without disposing.
    private const int LifetimeSeconds = 1200;

    private readonly StringBuilder _console = new();
    private readonly Lock _gate = new();
    private Process? _process;
    private readonly GuestImage _image;
    private readonly IReadOnlyDictionary<string, string> _environment;

    public KernelTargetGuest()
        : this(new GuestImage(), new Dictionary<string, string>())
    {
    }

    /// <param name="image">The guest to boot (the 6.1 kernel by default).</param>
    /// <param name="environment">More NOVASTOR_TARGET_* settings for run-target.sh.</param>
    protected KernelTargetGuest(GuestImage image, IReadOnlyDictionary<string, string> environment)
    {
        _image = image;
        _environment = environment;
    }

    /// <summary>The subsystem that requires DH-HMAC-CHAP, when the guest was asked for one (authnqn= on the ready line).</summary>
    public string AuthenticatedSubsystemNqn { get; private set; } = "";

    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);
    public int Port => EndPoint.Port;
    public string SubsystemNqn { get; private set; } = "";
    public IReadOnlyList<KernelTargetNamespace> Namespaces { get; private set; } = [];
    public TimeSpan BootTime { get; private set; }

    /// <summary>The console so far: run-target.sh's messages, the guest's lines and its kernel log (kmsg: lines).</summary>
    public string Console
    {
        get
        {
            lock (_gate)
            {
                return _console.ToString();
            }
        }
    }

    public KernelTargetNamespace Namespace(uint id) => Namespaces.Single(ns => ns.Id == id);

    public async Task InitializeAsync()
    {
        await _image.InitializeAsync();
        try
        {
            // A free port can be taken by someone else before QEMU binds it; QEMU then fails at once.
            for (int attempt = 1; ; attempt++)
            {
                string? readyLine = await BootAsync(NovaStor.Target.Tests.RunningTarget.FreePort());
                if (readyLine is not null)
                {
                    ParseReady(readyLine);
                    return;
                }

                if (attempt == 3 || !Console.Contains("host forwarding", StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidOperationException($"The kernel target guest ended before {ReadyMarker} (see its console below). Prerequisites: scripts/install-prereqs.sh as root (qemu-system-x86 ...).\n{Console}");
                }
            }
        }
        catch
        {
            await StopAsync();
            throw;
        }
    }

    public Task DisposeAsync() => StopAsync();

    /// <summary>The console from <paramref name="offset"/> on (offsets from <see cref="ConsoleLength"/>).</summary>
    public string ConsoleSince(int offset)
    {
        lock (_gate)
        {
            return offset < _console.Length ? _console.ToString(offset, _console.Length - offset) : "";
        }
    }

    public int ConsoleLength
    {
        get
        {
            lock (_gate)
            {
                return _console.Length;
            }
        }
    }

    /// <summary>The host's end (127.0.0.1) of the guest's control port 5000.</summary>
    public int ControlPort { get; private set; }

    /// <summary>
    /// Takes namespace 2 away and brings it back (configfs enable 0, then 1, a second apart), so
    /// the kernel target raises Namespace Attribute Changed events; returns once it is back.
    /// </summary>
    public async Task ToggleNamespace2Async()
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ControlPort).WaitAsync(TimeSpan.FromSeconds(10));
        using var reader = new StreamReader(client.GetStream());
        string? answer = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
        if (answer != "toggled")
        {
            throw new InvalidOperationException($"the guest's control port answered '{answer}', not 'toggled'");
        }
    }

    /// <summary>Starts the guest forwarding <paramref name="port"/>; the ready line, or null if the guest ended first.</summary>
    private async Task<string?> BootAsync(int port)
    {
        await StopAsync();
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
        var ready = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo(Path.Combine(RepositoryPaths.GuestScripts, "run-target.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        ControlPort = NovaStor.Target.Tests.RunningTarget.FreePort();
        start.Environment["NOVASTOR_TARGET_CONTROL_PORT"] = ControlPort.ToString(CultureInfo.InvariantCulture);
        foreach (var (name, value) in _environment)
        {
            start.Environment[name] = value;
        }

        foreach (var argument in new[] { _image.Directory, port.ToString(CultureInfo.InvariantCulture), LifetimeSeconds.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        void Line(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_gate)
            {
                _console.AppendLine(line);
            }

            if (line.StartsWith(ReadyMarker, StringComparison.Ordinal))
            {
                ready.TrySetResult(line);
            }
        }

        var stopwatch = Stopwatch.StartNew();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        process.Exited += (_, _) => ready.TrySetResult(null);
        if (!process.Start())
        {
            throw new InvalidOperationException("could not start run-target.sh");
        }

        _process = process;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string? readyLine;
        try
        {
            readyLine = await ready.Task.WaitAsync(ReadyLimit);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The kernel target guest printed no {ReadyMarker} within {ReadyLimit.TotalSeconds} s.\n{Console}");
        }

        BootTime = stopwatch.Elapsed;
        return readyLine;
    }

    /// <summary>Reads "NOVASTOR-TARGET-READY nqn=NQN port=4420 ns=NSID:LBA_BYTES:BLOCKS ...".</summary>
    private void ParseReady(string line)
    {
        var namespaces = new List<KernelTargetNamespace>();
        foreach (var field in line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            var (key, value) = (field[..field.IndexOf('=', StringComparison.Ordinal)], field[(field.IndexOf('=', StringComparison.Ordinal) + 1)..]);
            if (key == "nqn")
            {
                SubsystemNqn = value;
            }
            else if (key == "authnqn")
            {
                AuthenticatedSubsystemNqn = value;
            }
            else if (key == "ns")
            {
                var parts = value.Split(':');
                namespaces.Add(new KernelTargetNamespace(
                    uint.Parse(parts[0], CultureInfo.InvariantCulture),
                    int.Parse(parts[1], CultureInfo.InvariantCulture),
                    ulong.Parse(parts[2], CultureInfo.InvariantCulture)));
            }
        }

        if (SubsystemNqn.Length == 0 || namespaces.Count == 0)
        {
            throw new InvalidOperationException($"unexpected ready line from the guest: {line}");
        }

        Namespaces = namespaces;
    }

    /// <summary>SIGTERM first so that run-scenario.sh stops QEMU and removes its copy of the initrd; SIGKILL if it hangs.</summary>
    private async Task StopAsync()
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        using (process)
        {
            if (!process.HasExited)
            {
                try
                {
                    using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
                    if (kill is not null)
                    {
                        await kill.WaitForExitAsync();
                    }
                }
                catch (System.ComponentModel.Win32Exception)
                {
                    // No kill(1): the SIGKILL below still stops QEMU, leaving only its temporary directory.
                }

                using var limit = new CancellationTokenSource(StopLimit);
                try
                {
                    await process.WaitForExitAsync(limit.Token);
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }
            }
        }
    }
}
