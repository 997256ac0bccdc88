using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Grpc.Health.V1;
using Grpc.Net.Client;
using NovaStor.ControlPlane;

namespace NovaStor.Target.Tests.ControlPlane;

/// <summary>What a TLS client saw of the control plane: the server's HTTP/2 SETTINGS, or a failure before any.</summary>
internal sealed record HandshakeOutcome(bool Accepted, Exception? Failure)
{
    public override string ToString() => Accepted ? "accepted" : $"refused: {Failure}";
}

/// <summary>Clients of a control plane on 127.0.0.1, every wait bounded.</summary>
internal static class ControlPlaneProbe
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The switches that turn the control plane on at <paramref name="port"/> (RunningTarget turns it off).
    /// </summary>
    public static string[] Enable(int port) => ["--NovaStor:ControlPlane:Enabled=true", $"--NovaStor:ControlPlane:Port={port}"];

    public static Uri Https(int port) => new($"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>The health service's answer for the whole server, over <paramref name="channel"/>.</summary>
    public static async Task<HealthCheckResponse.Types.ServingStatus> CheckAsync(GrpcChannel channel)
    {
        var client = new Health.HealthClient(channel);
        var reply = await client.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow + Limit).ResponseAsync.WaitAsync(Limit);
        return reply.Status;
    }

    /// <summary>The health check with the client credentials in <paramref name="directory"/> (client.pem, client-key.pem, ca.pem).</summary>
    public static async Task<HealthCheckResponse.Types.ServingStatus> CheckWithAsync(int port, string directory)
    {
        using var channel = ControlPlaneChannel.Create(ControlPlaneClientOptions.FromDirectory(Https(port), directory));
        return await CheckAsync(channel);
    }

    /// <summary>
    /// A TLS handshake as an HTTP/2 client would make it, presenting <paramref name="clientCertificate"/>
    /// (or none), then the HTTP/2 preface. A server that accepted the client answers with its
    /// SETTINGS frame; one that refused it ends the connection before sending anything. (In TLS 1.3
    /// the client finishes its side of the handshake before the server has seen its certificate,
    /// so the refusal arrives on the first read.)
    /// </summary>
    public static async Task<HandshakeOutcome> HandshakeAsync(int port, X509Certificate2Collection serverCa, X509Certificate2? clientCertificate)
    {
        using var timeout = new CancellationTokenSource(Limit);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        await using var tls = new SslStream(tcp.GetStream());
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "127.0.0.1",
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate!,
                RemoteCertificateValidationCallback = (_, server, _, _) =>
                    server is X509Certificate2 certificate && CertificateFiles.ChainsTo(certificate, serverCa, ExtendedKeyUsage.ServerAuthentication),
            }, timeout.Token);
            // The client connection preface (RFC 9113, 3.4) and an empty SETTINGS frame.
            byte[] preface = [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, 0, 0, 0, 0x4, 0, 0, 0, 0, 0];
            await tls.WriteAsync(preface, timeout.Token);
            var frameHeader = new byte[9];
            int read = await tls.ReadAtLeastAsync(frameHeader, frameHeader.Length, throwOnEndOfStream: false, timeout.Token);
            const byte Settings = 0x4;
            return read == frameHeader.Length && frameHeader[3] == Settings
                ? new HandshakeOutcome(true, null)
                : new HandshakeOutcome(false, new EndOfStreamException($"the server closed the connection after {read} bytes"));
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return new HandshakeOutcome(false, ex);
        }
    }
}

/// <summary>
/// The target in a child process, for what only its console shows: its log lines. Killed on dispose.
/// </summary>
internal sealed class TargetProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _newLine = new(0);

    private TargetProcess(Process process)
    {
        _process = process;
    }

    public string Output => string.Join('\n', _lines);

    public static TargetProcess Start(string dataDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])[
            Path.Combine(AppContext.BaseDirectory, "NovaStor.Target.dll"),
            $"--NovaStor:Port={RunningTarget.FreePort()}",
            $"--NovaStor:DataDirectory={dataDirectory}",
            "--NovaStor:Metrics:Enabled=false",
            .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the target process");
        var target = new TargetProcess(process);
        process.OutputDataReceived += (_, e) => target.Add(e.Data);
        process.ErrorDataReceived += (_, e) => target.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return target;
    }

    /// <summary>The first line containing <paramref name="text"/>; null when none came within <paramref name="limit"/>.</summary>
    public async Task<string?> WaitForLineAsync(string text, TimeSpan limit)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            string? line = _lines.FirstOrDefault(candidate => candidate.Contains(text, StringComparison.Ordinal));
            var left = limit - deadline.Elapsed;
            if (line is not null || left <= TimeSpan.Zero)
            {
                return line;
            }

            await _newLine.WaitAsync(left);
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _ = _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        // The semaphore stays undisposed: output events may still arrive after the kill.
        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue(line);
            _newLine.Release();
        }
    }
}
