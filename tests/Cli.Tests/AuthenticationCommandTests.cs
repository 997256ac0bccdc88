using System.Globalization;
using NovaStor.Protocol.Authentication;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>gen-dhchap-key, and --dhchap-secret / --dhchap-ctrl-secret against a subsystem that requires DH-HMAC-CHAP.</summary>
public sealed class AuthenticationCommandTests : IAsyncLifetime
{
    private const string Nqn = "nqn.2026-12.io.novastor.test:cli-auth";
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:3f1c2b44-55aa-4c7e-9d1e-000000000001";
    private readonly DhchapSecret _secret = DhchapSecret.Generate();
    private readonly DhchapSecret _controllerSecret = DhchapSecret.Generate(48, 2);
    private RunningTarget _target = null!;

    public async Task InitializeAsync() => _target = await RunningTarget.StartAsync(
        $"--NovaStor:Subsystems:0:Nqn={Nqn}",
        "--NovaStor:Subsystems:0:Namespaces:0:Volume=cli-auth",
        "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=8388608",
        $"--NovaStor:Subsystems:0:Hosts:0:Nqn={HostNqn}",
        $"--NovaStor:Subsystems:0:Hosts:0:DhchapSecret={_secret.Format()}",
        $"--NovaStor:Subsystems:0:Hosts:0:DhchapControllerSecret={_controllerSecret.Format()}");

    public async Task DisposeAsync() => await _target.DisposeAsync();

    private string[] Fabrics => ["-a", "127.0.0.1", "-s", _target.Port.ToString(CultureInfo.InvariantCulture), "-n", Nqn, "-q", HostNqn];

    [Fact]
    public async Task Gen_dhchap_key_prints_a_secret_the_target_and_host_read()
    {
        var run = await Harness.RunAsync("gen-dhchap-key", "--key-length", "48", "--hmac", "2");
        Harness.Succeeded(run);
        using var secret = DhchapSecret.Parse(run.Out.Trim());
        Assert.Equal((48, (byte)2), (secret.Length, secret.TransformHash));
        Assert.StartsWith("DHHC-1:02:", run.Out, StringComparison.Ordinal);

        var refused = await Harness.RunAsync("gen-dhchap-key", "--key-length", "40");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("32, 48 or 64", refused.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_host_secret_and_the_controller_secret_authenticate_both_ways()
    {
        var run = await Harness.RunAsync(["connect", .. Fabrics, "--dhchap-secret", _secret.Format(), "--dhchap-ctrl-secret", _controllerSecret.Format()]);
        Harness.Succeeded(run);
        Assert.Contains($"subnqn    : {Nqn}", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_or_missing_secret_fails_with_a_clear_message_and_never_prints_the_secret()
    {
        var wrong = DhchapSecret.Generate().Format();
        var refused = await Harness.RunAsync(["id-ctrl", .. Fabrics, "--dhchap-secret", wrong]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("authentication failed", refused.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong[10..30], refused.All, StringComparison.Ordinal);
        Harness.NoStackTrace(refused);

        var missing = await Harness.RunAsync(["id-ctrl", .. Fabrics]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("--dhchap-secret", missing.Error, StringComparison.Ordinal);

        var wrongController = await Harness.RunAsync(["id-ctrl", .. Fabrics, "--dhchap-secret", _secret.Format(), "--dhchap-ctrl-secret", wrong]);
        Assert.Equal(1, wrongController.ExitCode);
        Assert.Contains("could not prove", wrongController.Error, StringComparison.Ordinal);

        var malformed = await Harness.RunAsync(["id-ctrl", .. Fabrics, "--dhchap-secret", "DHHC-1:00:abc:"]);
        Assert.Equal(1, malformed.ExitCode);
        Assert.Contains("Not a DH-HMAC-CHAP secret", malformed.Error, StringComparison.Ordinal);
    }
}
