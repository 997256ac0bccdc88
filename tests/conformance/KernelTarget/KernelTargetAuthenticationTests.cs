using NovaStor.Conformance.KernelHost;
using NovaStor.Initiator;
using NovaStor.Initiator.Authentication;
using NovaStor.Protocol.Authentication;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Conformance.KernelTarget;

/// <summary>
/// The Linux 6.12 kernel target with DH-HMAC-CHAP host entries in configfs (dhchap_key,
/// dhchap_ctrl_key, dhchap_hash, dhchap_dhgroup): one host authenticating one way with SHA-256 and
/// ffdhe2048, one both ways with SHA-512 over the null group and a transformed key.
/// </summary>
public sealed class AuthenticatingKernelTargetGuest() : KernelTargetGuest(new NewerGuestImage(), Settings)
{
    public static readonly HostIdentity OneWay = HostIdentity.Create();
    public static readonly HostIdentity BothWays = HostIdentity.Create();
    public static readonly DhchapSecret OneWaySecret = DhchapSecret.Generate();
    public static readonly DhchapSecret BothWaysSecret = DhchapSecret.Generate(48, 1);
    public static readonly DhchapSecret ControllerSecret = DhchapSecret.Generate(64);

    private static Dictionary<string, string> Settings => new()
    {
        ["NOVASTOR_TARGET_AUTH_HOST1"] = OneWay.HostNqn,
        ["NOVASTOR_TARGET_AUTH_KEY1"] = OneWaySecret.Format(),
        ["NOVASTOR_TARGET_AUTH_HASH1"] = "sha256",
        ["NOVASTOR_TARGET_AUTH_GROUP1"] = "ffdhe2048",
        ["NOVASTOR_TARGET_AUTH_HOST2"] = BothWays.HostNqn,
        ["NOVASTOR_TARGET_AUTH_KEY2"] = BothWaysSecret.Format(),
        ["NOVASTOR_TARGET_AUTH_CTRL_KEY2"] = ControllerSecret.Format(),
        ["NOVASTOR_TARGET_AUTH_HASH2"] = "sha512",
        ["NOVASTOR_TARGET_AUTH_GROUP2"] = "null",
    };
}

/// <summary>The managed initiator authenticates to the Linux kernel target, as a host; and is refused with the wrong secrets.</summary>
[Collection(KernelHostCollection.Name)]
public sealed class KernelTargetAuthenticationTests : IClassFixture<AuthenticatingKernelTargetGuest>, IDisposable
{
    private readonly AuthenticatingKernelTargetGuest _guest;
    private readonly ITestOutputHelper _output;
    private readonly int _consoleStart;

    public KernelTargetAuthenticationTests(AuthenticatingKernelTargetGuest guest, ITestOutputHelper output)
    {
        _guest = guest;
        _output = output;
        _consoleStart = guest.ConsoleLength;
        Assert.False(string.IsNullOrEmpty(guest.AuthenticatedSubsystemNqn), "the guest did not set up the authenticated subsystem");
    }

    public void Dispose() => _output.WriteLine(_guest.ConsoleSince(_consoleStart));

    [Fact]
    public async Task One_way_authentication_with_sha256_and_ffdhe2048_and_data_kept_on_two_queues()
    {
        var options = new NvmeConnectionOptions
        {
            Host = AuthenticatingKernelTargetGuest.OneWay,
            Authentication = new DhchapHostSecrets(AuthenticatingKernelTargetGuest.OneWaySecret),
            IoQueues = 2,
        };
        await WriteAndReadBackAsync(options, seed: 1);
    }

    [Fact]
    public async Task Both_ways_with_sha512_over_the_null_group()
    {
        var options = new NvmeConnectionOptions
        {
            Host = AuthenticatingKernelTargetGuest.BothWays,
            Authentication = new DhchapHostSecrets(AuthenticatingKernelTargetGuest.BothWaysSecret, AuthenticatingKernelTargetGuest.ControllerSecret),
        };
        await WriteAndReadBackAsync(options, seed: 2);
    }

    [Fact]
    public async Task A_wrong_secret_a_missing_one_and_a_wrong_controller_secret_are_refused()
    {
        string nqn = _guest.AuthenticatedSubsystemNqn;
        var wrong = new HostQueueOptions { Authentication = new DhchapHostSecrets(DhchapSecret.Generate()) };
        var refused = await Assert.ThrowsAsync<NvmeAuthenticationException>(() => KernelTargetIo.ConnectAsync(_guest, AuthenticatingKernelTargetGuest.OneWay, nqn, wrong));
        _output.WriteLine($"wrong secret: {refused.Message}");

        var none = await Assert.ThrowsAsync<NvmeAuthenticationException>(() => KernelTargetIo.ConnectAsync(_guest, AuthenticatingKernelTargetGuest.OneWay, nqn));
        Assert.Contains("no host secret", none.Message, StringComparison.Ordinal);

        var wrongController = new HostQueueOptions
        {
            Authentication = new DhchapHostSecrets(AuthenticatingKernelTargetGuest.BothWaysSecret, DhchapSecret.Generate(64)),
        };
        var unproven = await Assert.ThrowsAsync<NvmeAuthenticationException>(() => KernelTargetIo.ConnectAsync(_guest, AuthenticatingKernelTargetGuest.BothWays, nqn, wrongController));
        Assert.Contains("could not prove", unproven.Message, StringComparison.Ordinal);
    }

    private async Task WriteAndReadBackAsync(NvmeConnectionOptions options, int seed)
    {
        await using var controller = await NvmeController.ConnectAsync(_guest.EndPoint, _guest.AuthenticatedSubsystemNqn, options).WaitAsync(KernelTargetIo.Limit);
        var ns = controller.Namespace(1);
        var data = new byte[256 * 1024];
        new Random(seed).NextBytes(data);
        ulong firstBlock = (ulong)seed * 4096;
        (await ns.WriteAsync(firstBlock, data).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("write");
        var back = new byte[data.Length];
        (await ns.ReadAsync(firstBlock, back).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("read");
        Assert.Equal(data, back);
    }
}
