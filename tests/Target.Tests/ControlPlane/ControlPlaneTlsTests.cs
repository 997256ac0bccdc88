using System.Net.Security;
using System.Runtime.Versioning;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using NovaStor.ControlPlane;
using NovaStor.Target.ControlPlane.Security;
using NovaStor.Target.Hosting;
using Xunit;
using static NovaStor.Target.Tests.ControlPlane.ControlPlaneProbe;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace NovaStor.Target.Tests.ControlPlane;

/// <summary>
/// The control plane's mutual TLS over real handshakes on 127.0.0.1: development certificates
/// made on first start and reused, configured ones, and every way a client or a configuration is
/// refused. Nothing here binds anything but loopback.
/// </summary>
public sealed class ControlPlaneTlsTests
{
    private static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TheDevelopmentClientCertificateGetsAnAnswer()
    {
        int port = RunningTarget.FreePort();
        await using var target = await RunningTarget.StartAsync(Enable(port));
        string folder = DevelopmentFolder(target);

        Assert.Equal(ServingStatus.Serving, await CheckWithAsync(port, folder));
        using var client = ClientCertificate(folder);
        var outcome = await HandshakeAsync(port, Ca(folder), client);
        Assert.True(outcome.Accepted, outcome.ToString());
    }

    [Fact]
    public async Task AClientWithoutACertificateIsRefusedAtTheHandshake()
    {
        int port = RunningTarget.FreePort();
        await using var target = await RunningTarget.StartAsync(Enable(port));
        var ca = Ca(DevelopmentFolder(target));

        var outcome = await HandshakeAsync(port, ca, clientCertificate: null);
        Assert.False(outcome.Accepted, outcome.ToString());

        // The same through a gRPC client: the call fails in the transport, before any response
        // from the service (whose statuses come with no exception behind them).
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, server, _, _) => CertificateFiles.ChainsTo((X509Certificate2)server!, ca, ExtendedKeyUsage.ServerAuthentication),
            },
        };
        using var channel = GrpcChannel.ForAddress(Https(port), new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        var failure = await Assert.ThrowsAsync<RpcException>(() => CheckAsync(channel));
        AssertTransportFailure(failure);
    }

    [Fact]
    public async Task AClientCertificateFromAnotherCaIsRefused()
    {
        int port = RunningTarget.FreePort();
        await using var target = await RunningTarget.StartAsync(Enable(port));
        string folder = DevelopmentFolder(target);
        using var otherCa = CertificateSet.Create(new CertificateSetOptions());
        string otherFolder = Path.Combine(target.DataDirectory, "other-ca");
        otherCa.WriteTo(otherFolder, replace: false);

        using var stranger = CertificateFiles.LoadCertificateWithKey(Path.Combine(otherFolder, CertificateFiles.ClientCertificate), Path.Combine(otherFolder, CertificateFiles.ClientKey));
        var outcome = await HandshakeAsync(port, Ca(folder), stranger);
        Assert.False(outcome.Accepted, outcome.ToString());

        // The stranger's credentials, trusting the right server CA: refused in the transport too.
        var options = ControlPlaneClientOptions.FromDirectory(Https(port), otherFolder) with { CaPath = Path.Combine(folder, CertificateFiles.CaCertificate) };
        using var channel = ControlPlaneChannel.Create(options);
        AssertTransportFailure(await Assert.ThrowsAsync<RpcException>(() => CheckAsync(channel)));
    }

    [Fact]
    public async Task TheServerCertificateIsNoClientCertificate()
    {
        int port = RunningTarget.FreePort();
        await using var target = await RunningTarget.StartAsync(Enable(port));
        string folder = DevelopmentFolder(target);

        // Issued by the right CA, but for serverAuth only.
        using var server = CertificateFiles.LoadCertificateWithKey(Path.Combine(folder, CertificateFiles.ServerCertificate), Path.Combine(folder, CertificateFiles.ServerKey));
        var outcome = await HandshakeAsync(port, Ca(folder), server);
        Assert.False(outcome.Accepted, outcome.ToString());
    }

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes
    public async Task TheDevelopmentFilesAreOwnerOnlyAndReusedOnRestart()
    {
        int port = RunningTarget.FreePort();
        await using var target = await RunningTarget.StartAsync(Enable(port));
        string folder = DevelopmentFolder(target);

        Assert.Equal(CertificateFiles.OwnerOnlyFolder, File.GetUnixFileMode(folder));
        foreach (string name in CertificateFiles.All)
        {
            Assert.Equal(CertificateFiles.OwnerOnlyFile, File.GetUnixFileMode(Path.Combine(folder, name)));
        }

        string caThumbprint = Ca(folder)[0].Thumbprint;
        string clientPem = await File.ReadAllTextAsync(Path.Combine(folder, CertificateFiles.ClientCertificate));
        await target.StopAsync();
        await target.StartAgainAsync();

        Assert.Equal(caThumbprint, Ca(folder)[0].Thumbprint);
        Assert.Equal(clientPem, await File.ReadAllTextAsync(Path.Combine(folder, CertificateFiles.ClientCertificate)));
        Assert.Equal(ServingStatus.Serving, await CheckWithAsync(port, folder));
        // Nothing was left aside from making the set.
        Assert.Empty(Directory.GetDirectories(target.DataDirectory, "*.partial"));
    }

    [Fact]
    public async Task ANonLoopbackAddressWithoutCertificatesFailsStartUp()
    {
        await using var target = RunningTarget.Create([.. Enable(RunningTarget.FreePort()), "--NovaStor:ControlPlane:Address=0.0.0.0"]);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => target.StartAgainAsync());
        Assert.Contains("0.0.0.0", failure.Message, StringComparison.Ordinal);
        Assert.Contains("NovaStor:ControlPlane:CertificateDirectory", failure.Message, StringComparison.Ordinal);
        Assert.Contains("NovaStor:ControlPlane:ServerCertificate", failure.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DevelopmentFolder(target)), "no development certificates for a refused configuration");
    }

    [Fact]
    public async Task ConfiguredCertificatesInADirectoryServe()
    {
        int port = RunningTarget.FreePort();
        string configured = TemporaryFolder();
        try
        {
            using (var set = CertificateSet.Create(new CertificateSetOptions { ServerNames = [SubjectAlternativeName.Parse("ip:127.0.0.1")] }))
            {
                set.WriteTo(configured, replace: false);
            }

            await using var target = await RunningTarget.StartAsync([.. Enable(port), $"--NovaStor:ControlPlane:CertificateDirectory={configured}"]);

            Assert.Equal(ServingStatus.Serving, await CheckWithAsync(port, configured));
            Assert.False(Directory.Exists(DevelopmentFolder(target)), "configured certificates make no development ones");
        }
        finally
        {
            Directory.Delete(configured, recursive: true);
        }
    }

    [Fact]
    public async Task SingleFileSettingsOverrideTheDirectory()
    {
        int port = RunningTarget.FreePort();
        string serverSide = TemporaryFolder();
        string clientSide = TemporaryFolder();
        try
        {
            using (var server = CertificateSet.Create(new CertificateSetOptions { ServerNames = [SubjectAlternativeName.Parse("ip:127.0.0.1")] }))
            using (var clients = CertificateSet.Create(new CertificateSetOptions()))
            {
                server.WriteTo(serverSide, replace: false);
                clients.WriteTo(clientSide, replace: false);
            }

            // The server's own set, but client certificates come from another CA.
            await using var target = await RunningTarget.StartAsync([
                .. Enable(port),
                $"--NovaStor:ControlPlane:CertificateDirectory={serverSide}",
                $"--NovaStor:ControlPlane:ClientCa={Path.Combine(clientSide, CertificateFiles.CaCertificate)}"]);

            var trustServer = Ca(serverSide);
            using var accepted = ClientCertificate(clientSide);
            using var refused = ClientCertificate(serverSide);
            var acceptedOutcome = await HandshakeAsync(port, trustServer, accepted);
            var refusedOutcome = await HandshakeAsync(port, trustServer, refused);
            Assert.True(acceptedOutcome.Accepted, acceptedOutcome.ToString());
            Assert.False(refusedOutcome.Accepted, refusedOutcome.ToString());
        }
        finally
        {
            Directory.Delete(serverSide, recursive: true);
            Directory.Delete(clientSide, recursive: true);
        }
    }

    [Fact]
    public async Task BadConfiguredFilesFailStartUpNamingTheSetting()
    {
        string configured = TemporaryFolder();
        try
        {
            using (var set = CertificateSet.Create(new CertificateSetOptions()))
            {
                set.WriteTo(configured, replace: false);
            }

            string serverKey = Path.Combine(configured, CertificateFiles.ServerKey);
            string clientKey = Path.Combine(configured, CertificateFiles.ClientKey);

            var wrongKey = await StartUpFailureAsync($"--NovaStor:ControlPlane:CertificateDirectory={configured}", $"--NovaStor:ControlPlane:ServerKey={clientKey}");
            Assert.Contains("NovaStor:ControlPlane:ServerKey", wrongKey, StringComparison.Ordinal);
            Assert.Contains(clientKey, wrongKey, StringComparison.Ordinal);

            File.Delete(serverKey);
            var missing = await StartUpFailureAsync($"--NovaStor:ControlPlane:CertificateDirectory={configured}");
            Assert.Contains("NovaStor:ControlPlane:CertificateDirectory (server-key.pem)", missing, StringComparison.Ordinal);
            Assert.Contains(serverKey, missing, StringComparison.Ordinal);

            var notACertificate = await StartUpFailureAsync(
                $"--NovaStor:ControlPlane:ServerCertificate={clientKey}", $"--NovaStor:ControlPlane:ServerKey={clientKey}", $"--NovaStor:ControlPlane:ClientCa={configured}/ca.pem");
            Assert.Contains("NovaStor:ControlPlane:ServerCertificate", notACertificate, StringComparison.Ordinal);

            var inPart = await StartUpFailureAsync($"--NovaStor:ControlPlane:ServerCertificate={configured}/server.pem");
            Assert.Contains("NovaStor:ControlPlane:ServerKey and NovaStor:ControlPlane:ClientCa", inPart, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(configured, recursive: true);
        }
    }

    [Fact]
    public void AnExpiredServerCertificateFailsStartUpAndOneNearItsEndIsAWarning()
    {
        string expired = TemporaryFolder();
        string ending = TemporaryFolder();
        try
        {
            // Made 900 days ago, valid 825: expired 75 days ago. Made 810 days ago: 15 days left.
            using (var old = CertificateSet.Create(new CertificateSetOptions(), new FixedClock(DateTimeOffset.UtcNow.AddDays(-900))))
            using (var ageing = CertificateSet.Create(new CertificateSetOptions(), new FixedClock(DateTimeOffset.UtcNow.AddDays(-810))))
            {
                old.WriteTo(expired, replace: false);
                ageing.WriteTo(ending, replace: false);
            }

            var logger = new RecordingLogger();
            var failure = Assert.Throws<InvalidOperationException>(() =>
                ControlPlaneTls.Prepare(new ControlPlaneOptions { CertificateDirectory = expired }, expired, logger));
            Assert.Contains("NovaStor:ControlPlane:CertificateDirectory (server.pem)", failure.Message, StringComparison.Ordinal);
            Assert.Contains("not now", failure.Message, StringComparison.Ordinal);

            ControlPlaneTls.Prepare(new ControlPlaneOptions { CertificateDirectory = ending }, ending, logger);
            Assert.Contains(logger.Entries, entry => entry.EventId == 253 && entry.Message.Contains(Path.Combine(ending, CertificateFiles.ServerCertificate), StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(expired, recursive: true);
            Directory.Delete(ending, recursive: true);
        }
    }

    [Fact]
    public async Task AnIncompleteDevelopmentFolderFailsStartUpSayingWhatToDelete()
    {
        await using var target = RunningTarget.Create(Enable(RunningTarget.FreePort()));
        string folder = DevelopmentFolder(target);
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, CertificateFiles.CaCertificate), "left over");

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => target.StartAgainAsync());
        Assert.Contains($"Delete {folder}", failure.Message, StringComparison.Ordinal);
        Assert.Contains("missing ca-key.pem, server.pem, server-key.pem, client.pem, client-key.pem", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes
    public async Task ADevelopmentKeyOthersCanReadFailsStartUp()
    {
        await using var target = await RunningTarget.StartAsync(Enable(RunningTarget.FreePort()));
        await target.StopAsync();
        string key = Path.Combine(DevelopmentFolder(target), CertificateFiles.ClientKey);
        File.SetUnixFileMode(key, CertificateFiles.OwnerOnlyFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => target.StartAgainAsync());
        Assert.Contains(key, failure.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 600", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InsecureIsRefusedBeyondLoopback()
    {
        await using var target = RunningTarget.Create([.. Enable(RunningTarget.FreePort()), "--NovaStor:ControlPlane:Insecure=true", "--NovaStor:ControlPlane:Address=0.0.0.0"]);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => target.StartAgainAsync());
        Assert.Contains("NovaStor:ControlPlane:Insecure", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InsecureWithCertificatesIsRefused()
    {
        await using var target = RunningTarget.Create([.. Enable(RunningTarget.FreePort()), "--NovaStor:ControlPlane:Insecure=true", "--NovaStor:ControlPlane:CertificateDirectory=/nonexistent"]);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => target.StartAgainAsync());
        Assert.Contains("NovaStor:ControlPlane:Insecure is set together with NovaStor:ControlPlane:CertificateDirectory", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InsecureOnLoopbackServesPlaintextHttp2()
    {
        int port = RunningTarget.FreePort();
        await using var target = await RunningTarget.StartAsync([.. Enable(port), "--NovaStor:ControlPlane:Insecure=true"]);

        using var channel = ControlPlaneChannel.Create(new ControlPlaneClientOptions(new Uri($"http://127.0.0.1:{port}")));
        Assert.Equal(ServingStatus.Serving, await CheckAsync(channel));
        Assert.False(Directory.Exists(DevelopmentFolder(target)), "the insecure flag makes no certificates");
    }

    [Fact]
    public async Task TheInsecureTargetLogsAWarning()
    {
        string data = TemporaryFolder();
        try
        {
            using var target = TargetProcess.Start(data, [.. Enable(RunningTarget.FreePort()), "--NovaStor:ControlPlane:Insecure=true"]);
            string? warning = await target.WaitForLineAsync("INSECURE", ProcessLimit);
            Assert.True(warning is not null, target.Output);
            Assert.Contains("warn", warning, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task TheTargetLogsWhereTheDevelopmentClientCertificateIs()
    {
        string data = TemporaryFolder();
        int port = RunningTarget.FreePort();
        string folder = Path.Combine(data, CertificateFiles.DevelopmentFolderName);
        try
        {
            using (var target = TargetProcess.Start(data, Enable(port)))
            {
                string? created = await target.WaitForLineAsync(Path.Combine(folder, CertificateFiles.ClientCertificate), ProcessLimit);
                Assert.True(created is not null, target.Output);
                Assert.Contains("Created development certificates", target.Output, StringComparison.Ordinal);
                Assert.Contains(Path.Combine(folder, CertificateFiles.ClientKey), target.Output, StringComparison.Ordinal);
                await WaitUntilServingAsync(port, folder, target);
            }

            using (var again = TargetProcess.Start(data, Enable(port)))
            {
                string? reused = await again.WaitForLineAsync(Path.Combine(folder, CertificateFiles.ClientCertificate), ProcessLimit);
                Assert.True(reused is not null, again.Output);
                Assert.Contains("uses the development certificates", again.Output, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task WaitUntilServingAsync(int port, string folder, TargetProcess target)
    {
        // The log line comes before Kestrel listens.
        var deadline = DateTime.UtcNow + ProcessLimit;
        while (true)
        {
            try
            {
                Assert.Equal(ServingStatus.Serving, await CheckWithAsync(port, folder));
                return;
            }
            catch (RpcException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
            catch (RpcException ex)
            {
                Assert.Fail($"{ex}\n{target.Output}");
            }
        }
    }

    private static async Task<string> StartUpFailureAsync(params string[] arguments)
    {
        await using var target = RunningTarget.Create([.. Enable(RunningTarget.FreePort()), .. arguments]);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => target.StartAgainAsync());
        return failure.Message;
    }

    private static void AssertTransportFailure(RpcException failure)
    {
        Assert.True(failure.StatusCode is StatusCode.Unavailable or StatusCode.Internal, failure.ToString());
        var causes = new List<Exception>();
        for (var cause = failure.Status.DebugException; cause is not null; cause = cause.InnerException)
        {
            causes.Add(cause);
        }

        Assert.True(causes.Exists(cause => cause is AuthenticationException or IOException or HttpRequestException), failure.ToString());
    }

    private static string DevelopmentFolder(RunningTarget target) => CertificateFiles.DevelopmentDirectory(target.DataDirectory);

    private static X509Certificate2Collection Ca(string folder) => CertificateFiles.LoadCertificates(Path.Combine(folder, CertificateFiles.CaCertificate));

    private static X509Certificate2 ClientCertificate(string folder) =>
        CertificateFiles.LoadCertificateWithKey(Path.Combine(folder, CertificateFiles.ClientCertificate), Path.Combine(folder, CertificateFiles.ClientKey));

    private static string TemporaryFolder() => Directory.CreateTempSubdirectory("novastor-tls-").FullName;

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed class RecordingLogger : ILogger
    {
        public List<(int EventId, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((eventId.Id, formatter(state, exception)));
            }
        }
    }
}
