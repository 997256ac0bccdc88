using System.Runtime.Versioning;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using NovaStor.ControlPlane.V1;
using NovaStor.Initiator;
using NovaStor.Initiator.Authentication;
using NovaStor.Protocol;
using NovaStor.Protocol.Authentication;
using Xunit;
using static NovaStor.Target.Tests.ControlPlane.ControlPlaneTarget;

namespace NovaStor.Target.Tests.ControlPlane;

/// <summary>
/// DH-HMAC-CHAP secrets given to a host through the control plane (AddHost): the host must then
/// authenticate, the secrets survive a restart (and nothing but the owner can read them), they can
/// be replaced, and no answer or error ever shows one.
/// </summary>
public sealed class HostAuthenticationRpcTests : IAsyncLifetime
{
    private const string Nqn = "nqn.2026-12.io.novastor.test:rpc-auth";
    private ControlPlaneTarget _node = null!;
    private readonly HostIdentity _host = HostIdentity.Create();

    public async Task InitializeAsync()
    {
        _node = await StartAsync();
        await _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "secret-data", SizeBytes = 16 << 20 }, deadline: Deadline);
        await _node.Subsystems.CreateSubsystemAsync(new CreateSubsystemRequest { Nqn = Nqn }, deadline: Deadline);
        await _node.Subsystems.AddNamespaceAsync(new AddNamespaceRequest { SubsystemNqn = Nqn, Volume = "secret-data" }, deadline: Deadline);
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private async Task<NovaStor.ControlPlane.V1.Subsystem> AddHostAsync(DhchapSecret? secret, DhchapSecret? controllerSecret = null, string hash = "", string group = "") =>
        await _node.Subsystems.AddHostAsync(new HostRequest
        {
            SubsystemNqn = Nqn,
            HostNqn = _host.HostNqn,
            DhchapSecret = secret?.Format() ?? "",
            DhchapControllerSecret = controllerSecret?.Format() ?? "",
            DhchapHash = hash,
            DhchapGroup = group,
        }, deadline: Deadline);

    private Task<NvmeController> ConnectAsync(DhchapHostSecrets? secrets) =>
        NvmeController.ConnectAsync(_node.Target.EndPoint, Nqn, new NvmeConnectionOptions { Host = _host, Authentication = secrets }).Within();

    private string ExportsPath => Path.Combine(_node.Target.DataDirectory, "exports.json");

    /// <summary>exports.json's text as JSON reads it (base64's '+' is stored escaped).</summary>
    private async Task<string> StoredExportsAsync() => JsonNode.Parse(await File.ReadAllTextAsync(ExportsPath))!.ToJsonString(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private static async Task WriteAndReadBackAsync(NvmeController controller, int seed)
    {
        var data = Nvme.RandomBytes(16 * 1024, seed);
        (await controller.Namespace(1).WriteAsync(64, data).AsTask().Within()).ThrowIfFailed("write");
        var back = new byte[data.Length];
        (await controller.Namespace(1).ReadAsync(64, back).AsTask().Within()).ThrowIfFailed("read");
        Assert.Equal(data, back);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")] // file modes
    public async Task A_host_given_secrets_over_grpc_must_authenticate_and_still_must_after_a_restart()
    {
        using var secret = DhchapSecret.Generate(48, 2);
        using var controllerSecret = DhchapSecret.Generate();
        var added = await AddHostAsync(secret, controllerSecret, "sha384", "ffdhe3072");
        Assert.Equal([_host.HostNqn], added.AllowedHosts);
        var authenticated = Assert.Single(added.AuthenticatedHosts);
        Assert.Equal(_host.HostNqn, authenticated.HostNqn);
        Assert.True(authenticated.Bidirectional);
        Assert.Equal("sha384", authenticated.Hash);
        Assert.Equal("ffdhe3072", authenticated.Group);
        Assert.DoesNotContain("DHHC-1", added.ToString(), StringComparison.Ordinal);

        var refused = await Assert.ThrowsAsync<NvmeAuthenticationException>(() => ConnectAsync(null));
        Assert.Contains("no host secret", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<NvmeAuthenticationException>(() => ConnectAsync(new DhchapHostSecrets(DhchapSecret.Generate())));
        await using (var controller = await ConnectAsync(new DhchapHostSecrets(secret, controllerSecret)))
        {
            await WriteAndReadBackAsync(controller, 1);
        }

        // The secrets are stored so a restart keeps them, in a file only the target's user reads.
        Assert.Contains(secret.Format(), await StoredExportsAsync(), StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ExportsPath));

        await _node.StopAsync();
        await _node.StartAgainAsync();
        Assert.Single((await _node.Subsystems.GetSubsystemAsync(new GetSubsystemRequest { Nqn = Nqn }, deadline: Deadline)).AuthenticatedHosts);
        await Assert.ThrowsAsync<NvmeAuthenticationException>(() => ConnectAsync(null));
        await using (var controller = await ConnectAsync(new DhchapHostSecrets(secret, controllerSecret)))
        {
            await WriteAndReadBackAsync(controller, 2);
        }
    }

    [Fact]
    public async Task New_secrets_replace_the_old_ones_for_new_connections_and_a_plain_add_does_not_drop_them()
    {
        using var first = DhchapSecret.Generate();
        using var second = DhchapSecret.Generate(64, 3);
        await AddHostAsync(first);
        await using var connected = await ConnectAsync(new DhchapHostSecrets(first));

        await AddHostAsync(second);
        await Assert.ThrowsAsync<NvmeAuthenticationException>(() => ConnectAsync(new DhchapHostSecrets(first)));
        await using (var controller = await ConnectAsync(new DhchapHostSecrets(second)))
        {
            await WriteAndReadBackAsync(controller, 3);
        }

        // The controller that authenticated with the old secret keeps its session.
        await WriteAndReadBackAsync(connected, 4);

        // Adding the host again without secrets (a retried or idempotent add) keeps them: no silent downgrade.
        var again = await AddHostAsync(null);
        Assert.Single(again.AuthenticatedHosts);
        await Assert.ThrowsAsync<NvmeAuthenticationException>(() => ConnectAsync(null));

        // Removing the host removes its secrets; added back plain, it connects without authenticating.
        var removed = await _node.Subsystems.RemoveHostAsync(new HostRequest { SubsystemNqn = Nqn, HostNqn = _host.HostNqn }, deadline: Deadline);
        Assert.Empty(removed.AuthenticatedHosts);
        Assert.Empty((await AddHostAsync(null)).AuthenticatedHosts);
        await using (var controller = await ConnectAsync(null))
        {
            await WriteAndReadBackAsync(controller, 5);
        }

        Assert.DoesNotContain("DHHC-1", await StoredExportsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_secrets_are_refused_without_being_repeated_and_change_nothing()
    {
        using var good = DhchapSecret.Generate();
        string corrupted = good.Format()[..^6] + "AAAA=:";
        var refused = await RefusedAsync(StatusCode.InvalidArgument, "host secret is not a DH-HMAC-CHAP secret",
            () => _node.Subsystems.AddHostAsync(new HostRequest { SubsystemNqn = Nqn, HostNqn = _host.HostNqn, DhchapSecret = corrupted }, deadline: Deadline).ResponseAsync);
        Assert.DoesNotContain(corrupted[10..30], refused.Status.Detail, StringComparison.Ordinal);

        await RefusedAsync(StatusCode.InvalidArgument, "without a host secret", () => AddHostAsync(null, good));
        await RefusedAsync(StatusCode.InvalidArgument, "must differ", () => AddHostAsync(good, good));
        await RefusedAsync(StatusCode.InvalidArgument, "sha1", () => AddHostAsync(good, hash: "sha1"));
        await RefusedAsync(StatusCode.InvalidArgument, "ffdhe1024", () => AddHostAsync(good, group: "ffdhe1024"));
        await RefusedAsync(StatusCode.InvalidArgument, "no DH-HMAC-CHAP host secret", () => AddHostAsync(null, hash: "sha256"));

        var subsystem = await _node.Subsystems.GetSubsystemAsync(new GetSubsystemRequest { Nqn = Nqn }, deadline: Deadline);
        Assert.Empty(subsystem.AllowedHosts);
        Assert.Empty(subsystem.AuthenticatedHosts);
        Assert.DoesNotContain("DHHC-1", await StoredExportsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stored_secret_that_is_damaged_stops_start_up_without_showing_it()
    {
        using var secret = DhchapSecret.Generate();
        await AddHostAsync(secret);
        await _node.StopAsync();
        string text = secret.Format();
        string damaged = text[..12] + (text[12] == 'A' ? 'B' : 'A') + text[13..];
        string stored = await StoredExportsAsync();
        Assert.Contains(text, stored, StringComparison.Ordinal);
        await File.WriteAllTextAsync(ExportsPath, stored.Replace(text, damaged, StringComparison.Ordinal));

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => _node.StartAgainAsync());
        Assert.Contains(ExportsPath, failure.Message, StringComparison.Ordinal);
        Assert.Contains("CRC", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(damaged[7..20], failure.Message, StringComparison.Ordinal);
    }
}
