using Xunit;
using NovaStor.Initiator;
using NovaStor.Initiator.Authentication;
using NovaStor.Protocol;
using NovaStor.Protocol.Authentication;

namespace NovaStor.Target.Tests;

/// <summary>
/// A subsystem whose hosts must authenticate with DH-HMAC-CHAP, each configured differently, next
/// to one listed host that need not. A short connect timeout, so a host that never authenticates is
/// seen being closed.
/// </summary>
public sealed class AuthenticatingTarget : IAsyncLifetime
{
    public const string Nqn = "nqn.2026-12.io.novastor:authenticated";

    /// <summary>Default choice (the first hash the host offers, ffdhe2048), unidirectional.</summary>
    public Host Plain { get; } = new(HostIdentity.Create(), DhchapSecret.Generate(), null, null, null);

    /// <summary>SHA-384 over the null group, with a transformed (SHA-256) 48-byte key.</summary>
    public Host NullGroup { get; } = new(HostIdentity.Create(), DhchapSecret.Generate(48, 1), null, "sha384", "null");

    /// <summary>SHA-512, ffdhe3072, and a controller secret for bidirectional authentication.</summary>
    public Host Bidirectional { get; } = new(HostIdentity.Create(), DhchapSecret.Generate(64, 3), DhchapSecret.Generate(), "sha512", "ffdhe3072");

    /// <summary>Listed in AllowedHosts with no secret: connects as before.</summary>
    public HostIdentity Unauthenticated { get; } = HostIdentity.Create();

    public RunningTarget Target { get; private set; } = null!;

    public sealed record Host(HostIdentity Identity, DhchapSecret Secret, DhchapSecret? ControllerSecret, string? Hash, string? Group)
    {
        public DhchapHostSecrets Secrets => new(Secret, ControllerSecret);
    }

    public async Task InitializeAsync()
    {
        var args = new List<string>
        {
            "--NovaStor:ConnectTimeoutSeconds=2",
            $"--NovaStor:Subsystems:0:Nqn={Nqn}",
            $"--NovaStor:Subsystems:0:AllowedHosts:0={Unauthenticated.HostNqn}",
            "--NovaStor:Subsystems:0:Namespaces:0:Volume=auth",
            "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=16777216",
        };
        Host[] hosts = [Plain, NullGroup, Bidirectional];
        for (int i = 0; i < hosts.Length; i++)
        {
            string prefix = $"--NovaStor:Subsystems:0:Hosts:{i}:";
            args.Add($"{prefix}Nqn={hosts[i].Identity.HostNqn}");
            args.Add($"{prefix}DhchapSecret={hosts[i].Secret.Format()}");
            if (hosts[i].ControllerSecret is { } controller)
            {
                args.Add($"{prefix}DhchapControllerSecret={controller.Format()}");
            }

            if (hosts[i].Hash is { } hash)
            {
                args.Add($"{prefix}DhchapHash={hash}");
            }

            if (hosts[i].Group is { } group)
            {
                args.Add($"{prefix}DhchapGroup={group}");
            }
        }

        Target = await RunningTarget.StartAsync([.. args]);
    }

    public async Task DisposeAsync() => await Target.DisposeAsync();
}

public sealed class AuthenticationTests(AuthenticatingTarget fixture) : IClassFixture<AuthenticatingTarget>
{
    private RunningTarget Target => fixture.Target;

    public static TheoryData<string> ConfiguredHosts => ["Plain", "NullGroup", "Bidirectional"];

    private AuthenticatingTarget.Host HostNamed(string name) => name switch
    {
        "Plain" => fixture.Plain,
        "NullGroup" => fixture.NullGroup,
        _ => fixture.Bidirectional,
    };

    [Theory]
    [MemberData(nameof(ConfiguredHosts))]
    public async Task A_host_with_its_secret_authenticates_every_queue_and_keeps_its_data(string name)
    {
        var host = HostNamed(name);
        var options = new NvmeConnectionOptions { Host = host.Identity, Authentication = host.Secrets, IoQueues = 2 };
        await using var controller = await NvmeController.ConnectAsync(Target.EndPoint, AuthenticatingTarget.Nqn, options).Within();
        var ns = controller.Namespace(1);
        var data = Nvme.RandomBytes(64 * 1024, name.Length);
        (await ns.WriteAsync(8, data).AsTask().Within()).ThrowIfFailed("write");
        var back = new byte[data.Length];
        (await ns.ReadAsync(8, back).AsTask().Within()).ThrowIfFailed("read");
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task A_wrong_secret_is_refused_and_no_command_runs()
    {
        var options = new HostQueueOptions { Authentication = new DhchapHostSecrets(DhchapSecret.Generate()) };
        var failure = await Assert.ThrowsAsync<NvmeAuthenticationException>(() => HostController.ConnectAsync(Target.EndPoint, AuthenticatingTarget.Nqn, fixture.Plain.Identity, 0, options).Within());
        Assert.Contains("refused authentication", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_that_must_authenticate_but_has_no_secret_gets_a_clear_error()
    {
        var failure = await Assert.ThrowsAsync<NvmeAuthenticationException>(() => HostController.ConnectAsync(Target.EndPoint, AuthenticatingTarget.Nqn, fixture.Plain.Identity).Within());
        Assert.Contains("no host secret", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_controller_that_cannot_prove_the_controller_secret_is_refused_by_the_host()
    {
        var host = fixture.Bidirectional;
        var options = new HostQueueOptions { Authentication = new DhchapHostSecrets(host.Secret, DhchapSecret.Generate()) };
        var failure = await Assert.ThrowsAsync<NvmeAuthenticationException>(() => HostController.ConnectAsync(Target.EndPoint, AuthenticatingTarget.Nqn, host.Identity, 0, options).Within());
        Assert.Contains("could not prove", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bidirectional_authentication_is_refused_where_no_controller_secret_is_configured()
    {
        var host = fixture.Plain;
        var options = new HostQueueOptions { Authentication = new DhchapHostSecrets(host.Secret, DhchapSecret.Generate()) };
        var failure = await Assert.ThrowsAsync<NvmeAuthenticationException>(() => HostController.ConnectAsync(Target.EndPoint, AuthenticatingTarget.Nqn, host.Identity, 0, options).Within());
        Assert.Contains("refused authentication", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Before_authenticating_only_authentication_is_served_and_connect_says_it_is_required()
    {
        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var connect = await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(fixture.Plain.Identity, 0xFFFF, AuthenticatingTarget.Nqn));
        Nvme.AssertSuccess(connect);
        Assert.True(ConnectResponse.RequiresAuthentication(connect.Dw0), "Connect did not set AUTHREQ");

        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.PropertyGet(ControllerProperties.Capabilities, true)), 1, 0x91);
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.PropertySet(ControllerProperties.Configuration, 1)), 1, 0x91);
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.Identify(IdentifyCns.Controller, 0), dataIn: new byte[4096]), 1, 0x91);

        // A malformed Authentication Send (another security protocol) is an Invalid Field, not a crash.
        var wrongProtocol = AuthenticationCommand.Dhchap(send: true, 72);
        wrongProtocol.Cdw10 &= 0x00FF_FFFF;
        Nvme.AssertStatus(await queue.ExecuteAsync(wrongProtocol, new byte[72]), 0, 0x02);
    }

    [Fact]
    public async Task A_host_that_connects_and_never_authenticates_is_disconnected()
    {
        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        Nvme.AssertSuccess(await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(fixture.Plain.Identity, 0xFFFF, AuthenticatingTarget.Nqn)));
        await Nvme.ClosedWithAsync(queue, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_listed_host_without_a_secret_connects_without_authenticating()
    {
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, AuthenticatingTarget.Nqn, fixture.Unauthenticated).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        var data = Nvme.RandomBytes(4096, 7);
        await queue.WriteAsync(0, data);
        Assert.Equal(data, await queue.ReadAsync(0, data.Length));
    }

    [Fact]
    public async Task A_malformed_negotiate_gets_a_failure_message_and_the_controller_serves_nothing()
    {
        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        Nvme.AssertSuccess(await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(fixture.Plain.Identity, 0xFFFF, AuthenticatingTarget.Nqn)));

        var negotiate = new byte[NegotiateMessage.Length];
        new NegotiateMessage(9, 0, [DhchapHash.Sha256], [DhchapGroup.Null]).WriteTo(negotiate);
        negotiate[8] = 0x77; // not the DH-HMAC-CHAP protocol descriptor
        Nvme.AssertSuccess(await queue.ExecuteAsync(AuthenticationCommand.Dhchap(send: true, (uint)negotiate.Length), negotiate));
        var answer = new byte[4096];
        Nvme.AssertSuccess(await queue.ExecuteAsync(AuthenticationCommand.Dhchap(send: false, (uint)answer.Length), dataIn: answer));
        Assert.True(AuthenticationEndMessages.IsFailure(answer, out var reason), "no AUTH_Failure1");
        Assert.Equal(DhchapFailure.IncorrectPayload, reason);
        Assert.Equal(AuthenticationMessageId.Failure1, answer[1]);
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.PropertyGet(ControllerProperties.Status, false)), 1, 0x91);
    }

    [Fact]
    public async Task The_admin_queue_can_authenticate_again()
    {
        var host = fixture.Plain;
        var options = new HostQueueOptions { Authentication = host.Secrets };
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, AuthenticatingTarget.Nqn, host.Identity, 0, options).Within();
        await controller.AuthenticateAsync().Within();
        Assert.NotNull(await controller.IdentifyAsync(IdentifyCns.Controller).Within());
    }
}
