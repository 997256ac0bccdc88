using System.Globalization;
using System.Net;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Health.V1;
using NovaStor.ControlPlane;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>novastor certs create: the files, their modes, the refusal to overwrite, and a target serving with them.</summary>
[UnsupportedOSPlatform("windows")] // file modes
public sealed class CertsCommandTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task CreateWritesSixOwnerOnlyFilesAndSaysHowToUseThem()
    {
        using var temp = new TempDir();
        string folder = temp.File("certs");

        var run = await Harness.RunAsync("certs", "create", folder);

        Harness.Succeeded(run);
        Assert.Equal(CertificateFiles.OwnerOnlyFolder, File.GetUnixFileMode(folder));
        foreach (string name in CertificateFiles.All)
        {
            string path = Path.Combine(folder, name);
            Assert.Equal(CertificateFiles.OwnerOnlyFile, File.GetUnixFileMode(path));
            Assert.Contains(name, run.Out, StringComparison.Ordinal);
        }

        Assert.Contains($"--NovaStor:ControlPlane:CertificateDirectory={folder}", run.Out, StringComparison.Ordinal);
        Assert.Contains("-----BEGIN PRIVATE KEY-----", await File.ReadAllTextAsync(Path.Combine(folder, CertificateFiles.ServerKey)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateRefusesToOverwriteWithoutForce()
    {
        using var temp = new TempDir();
        string ca = temp.File(CertificateFiles.CaCertificate);
        await File.WriteAllTextAsync(ca, "an operator's CA");

        var refused = await Harness.RunAsync("certs", "create", temp.Path);

        Assert.Equal(ExitCodes.NvmeStatus, refused.ExitCode);
        Assert.Contains("ca.pem", refused.Error, StringComparison.Ordinal);
        Assert.Contains("--force", refused.Error, StringComparison.Ordinal);
        Harness.NoStackTrace(refused);
        Assert.Equal("an operator's CA", await File.ReadAllTextAsync(ca));
        Assert.Equal([CertificateFiles.CaCertificate], CertificateSet.Existing(temp.Path));

        // --force replaces it, and a replaced file is owner-only even if the old one was not.
        File.SetUnixFileMode(ca, CertificateFiles.OwnerOnlyFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var forced = await Harness.RunAsync("certs", "create", temp.Path, "--force");

        Harness.Succeeded(forced);
        Assert.Equal(CertificateFiles.All.Count, CertificateSet.Existing(temp.Path).Count);
        foreach (string name in CertificateFiles.All)
        {
            Assert.Equal(CertificateFiles.OwnerOnlyFile, File.GetUnixFileMode(temp.File(name)));
        }

        Assert.Contains("BEGIN CERTIFICATE", await File.ReadAllTextAsync(ca), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheServerCertificateNamesWhatWasGivenAndNothingElse()
    {
        using var temp = new TempDir();
        string given = temp.File("given");
        string loopback = temp.File("loopback");

        Harness.Succeeded(await Harness.RunAsync("certs", "create", given, "--san", "dns:node1.example", "--san", "ip:10.0.0.5", "--days", "30", "--client-name", "csi-driver"));
        Harness.Succeeded(await Harness.RunAsync("certs", "create", loopback));

        using var server = Load(given, CertificateFiles.ServerCertificate);
        var names = server.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["node1.example"], names.EnumerateDnsNames());
        Assert.Equal([IPAddress.Parse("10.0.0.5")], names.EnumerateIPAddresses());
        Assert.InRange(server.NotAfter.ToUniversalTime(), DateTime.UtcNow.AddDays(29), DateTime.UtcNow.AddDays(31));
        using var client = Load(given, CertificateFiles.ClientCertificate);
        Assert.Equal("CN=csi-driver", client.Subject);
        using var ca = Load(given, CertificateFiles.CaCertificate);
        Assert.InRange(ca.NotAfter.ToUniversalTime(), DateTime.UtcNow.AddYears(10).AddDays(-1), DateTime.UtcNow.AddYears(10).AddDays(1));
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);

        using var local = Load(loopback, CertificateFiles.ServerCertificate);
        var localNames = local.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["localhost"], localNames.EnumerateDnsNames());
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], localNames.EnumerateIPAddresses());
    }

    [Theory]
    [InlineData("--san", "host.example")]
    [InlineData("--san", "ip:not-an-address")]
    [InlineData("--days", "0")]
    [InlineData("--days", "3651")]
    public async Task UnusableArgumentsWriteNothing(string option, string value)
    {
        using var temp = new TempDir();
        string folder = temp.File("certs");

        var run = await Harness.RunAsync("certs", "create", folder, option, value);

        Assert.Equal(ExitCodes.NvmeStatus, run.ExitCode);
        Assert.Contains(option, run.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder), run.ToString());
    }

    [Fact]
    public async Task ATargetServesWithTheCreatedSetAndRefusesAnotherSetsClient()
    {
        using var temp = new TempDir();
        string folder = temp.File("target");
        string stranger = temp.File("stranger");
        Harness.Succeeded(await Harness.RunAsync("certs", "create", folder, "--san", "ip:127.0.0.1"));
        Harness.Succeeded(await Harness.RunAsync("certs", "create", stranger, "--san", "ip:127.0.0.1"));
        int port = RunningTarget.FreePort();

        await using var target = await RunningTarget.StartAsync(
            "--NovaStor:ControlPlane:Enabled=true",
            $"--NovaStor:ControlPlane:Port={port.ToString(CultureInfo.InvariantCulture)}",
            $"--NovaStor:ControlPlane:CertificateDirectory={folder}");

        var address = new Uri($"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        using (var channel = ControlPlaneChannel.Create(ControlPlaneClientOptions.FromDirectory(address, folder)))
        {
            var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow + Limit).ResponseAsync.WaitAsync(Limit);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
        }

        // The stranger's client certificate, trusting the right server CA: refused in the transport.
        var strangerOptions = ControlPlaneClientOptions.FromDirectory(address, stranger) with { CaPath = Path.Combine(folder, CertificateFiles.CaCertificate) };
        using var refusedChannel = ControlPlaneChannel.Create(strangerOptions);
        var failure = await Assert.ThrowsAsync<RpcException>(() =>
            new Health.HealthClient(refusedChannel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow + Limit).ResponseAsync.WaitAsync(Limit));
        Assert.Equal(StatusCode.Unavailable, failure.StatusCode);
        Assert.NotNull(failure.Status.DebugException);
    }

    private static X509Certificate2 Load(string folder, string name) => X509CertificateLoader.LoadCertificateFromFile(Path.Combine(folder, name));
}
