using System.Text.RegularExpressions;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>A target with its control plane on (insecure development mode: http on loopback), shared by a test class.</summary>
public sealed class ControlPlaneCliTarget : IAsyncLifetime
{
    public RunningTarget Target { get; private set; } = null!;

    public int ControlPlanePort { get; } = RunningTarget.FreePort();

    public string ControlPlane => "http://127.0.0.1:" + ControlPlanePort.ToString(CultureInfo.InvariantCulture);

    public async Task InitializeAsync() => Target = await RunningTarget.StartAsync(
        "--NovaStor:ControlPlane:Enabled=true",
        $"--NovaStor:ControlPlane:Port={ControlPlanePort}",
        "--NovaStor:ControlPlane:Insecure=true");

    public async Task DisposeAsync() => await Target.DisposeAsync();

    /// <summary>A control-plane command against this target.</summary>
    public Task<CliRun> RunAsync(params string[] args) => Harness.RunAsync([.. args, "--control-plane", ControlPlane]);

    /// <summary>The command with -o json, which must succeed: its document.</summary>
    public async Task<JsonDocument> JsonAsync(params string[] args)
    {
        var run = await RunAsync([.. args, "-o", "json"]);
        Harness.Succeeded(run);
        return JsonDocument.Parse(run.Out);
    }
}

/// <summary>The control-plane commands end to end: the CLI in process against a real target's gRPC services.</summary>
public sealed class ControlPlaneEndToEndTests(ControlPlaneCliTarget shared) : IClassFixture<ControlPlaneCliTarget>
{
    private string NvmePort => shared.Target.Port.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_volume_is_created_listed_resized_and_deleted()
    {
        var created = await shared.RunAsync("volume", "create", "e2e-life", "--size", "64M", "--block-size", "4096");
        Harness.Succeeded(created);
        Assert.Contains("created volume e2e-life\n", created.Out, StringComparison.Ordinal);
        Assert.Contains("size          : 64.00 MiB (67108864 bytes)\n", created.Out, StringComparison.Ordinal);
        Assert.Contains("block size    : 4096\n", created.Out, StringComparison.Ordinal);

        var list = await shared.RunAsync("volume", "list");
        Harness.Succeeded(list);
        Assert.Matches(@"(?m)^e2e-life\s+64\.00 MiB\s+4096\s", list.Out);

        var resized = await shared.RunAsync("volume", "resize", "e2e-life", "--size", "128m");
        Harness.Succeeded(resized);
        Assert.Equal("resized volume e2e-life to 128.00 MiB (134217728 bytes)\n", resized.Out);
        using (var volume = await shared.JsonAsync("volume", "get", "e2e-life"))
        {
            Assert.Equal(128UL << 20, volume.RootElement.GetProperty("size_bytes").GetUInt64());
            Assert.Equal(4096, volume.RootElement.GetProperty("block_size").GetInt32());
            Assert.NotEmpty(volume.RootElement.GetProperty("id").GetString()!);
        }

        var deleted = await shared.RunAsync("volume", "delete", "e2e-life");
        Harness.Succeeded(deleted);
        Assert.Equal("deleted volume e2e-life\n", deleted.Out);

        var gone = await shared.RunAsync("volume", "get", "e2e-life");
        Assert.Equal(ExitCodes.Refused, gone.ExitCode);
        Assert.StartsWith("novastor: ", gone.Error, StringComparison.Ordinal);
        Assert.Contains("e2e-life", gone.Error, StringComparison.Ordinal);
        Assert.Empty(gone.Out);
    }

    [Fact]
    public async Task A_duplicate_volume_is_refused_with_the_targets_message_and_exit_1()
    {
        Harness.Succeeded(await shared.RunAsync("volume", "create", "e2e-dup", "--size", "16M"));
        var again = await shared.RunAsync("volume", "create", "e2e-dup", "--size", "16M");
        Assert.Equal(ExitCodes.Refused, again.ExitCode);
        Assert.Matches(@"^novastor: .*'e2e-dup'.*\n$", again.Error);
        Assert.Single(again.Error.TrimEnd('\n').Split('\n'));
        Assert.Empty(again.Out);
        Harness.NoStackTrace(again);

        var shrink = await shared.RunAsync("volume", "resize", "e2e-dup", "--size", "8M");
        Assert.Equal(ExitCodes.Refused, shrink.ExitCode);
        Assert.StartsWith("novastor: ", shrink.Error, StringComparison.Ordinal);

        var badBlocks = await shared.RunAsync("volume", "create", "e2e-odd", "--size", "1000");
        Assert.Equal(ExitCodes.Refused, badBlocks.ExitCode);
        Assert.StartsWith("novastor: ", badBlocks.Error, StringComparison.Ordinal);
        Harness.Succeeded(await shared.RunAsync("volume", "delete", "e2e-dup"));
    }

    [Fact]
    public async Task A_subsystem_exports_a_volume_that_a_host_writes_and_stats_count_it()
    {
        const string Nqn = "nqn.2026-11.io.novastor:e2e-cli";
        Harness.Succeeded(await shared.RunAsync("volume", "create", "e2e-ns", "--size", "32M"));

        var created = await shared.RunAsync("subsystem", "create", Nqn, "--serial", "E2E1", "--model", "CLI e2e", "--allow-any-host");
        Harness.Succeeded(created);
        Assert.Contains($"created subsystem {Nqn}\n", created.Out, StringComparison.Ordinal);
        Assert.Contains("allow any host: yes\n", created.Out, StringComparison.Ordinal);

        var added = await shared.RunAsync("subsystem", "add-ns", Nqn, "--volume", "e2e-ns");
        Harness.Succeeded(added);
        Assert.Equal($"exported volume e2e-ns as namespace 1 of {Nqn} (ANA group 1)\n", added.Out);

        var list = await shared.RunAsync("subsystem", "list");
        Harness.Succeeded(list);
        Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(Nqn)}\s+1\s+any\s+0\s+no\s+CLI e2e$", list.Out);
        Assert.Contains(RunningTarget.DefaultNqn, list.Out, StringComparison.Ordinal);

        using (var subsystem = await shared.JsonAsync("subsystem", "get", Nqn))
        {
            var ns = subsystem.RootElement.GetProperty("namespaces")[0];
            Assert.Equal(1, ns.GetProperty("id").GetInt32());
            Assert.Equal("e2e-ns", ns.GetProperty("volume").GetString());
            Assert.Equal(32UL << 20, ns.GetProperty("size_bytes").GetUInt64());
            Assert.Equal("E2E1", subsystem.RootElement.GetProperty("serial_number").GetString());
        }

        // A host writes 8 blocks over NVMe/TCP to the new namespace.
        using var dir = new TempDir();
        await File.WriteAllBytesAsync(dir.File("in.bin"), Harness.RandomBytes(4096, seed: 7));
        var write = await Harness.RunAsync("write", "-a", "127.0.0.1", "-s", NvmePort, "-n", Nqn, "-N", "1", "-S", "0", "-d", dir.File("in.bin"));
        Harness.Succeeded(write);

        await StatsCountTheWriteAsync(Nqn);

        var changes = await shared.RunAsync("volume", "changes", "e2e-ns");
        Harness.Succeeded(changes);
        Assert.Contains("changed       : 1 (64.00 KiB)\n", changes.Out, StringComparison.Ordinal);

        var exported = await shared.RunAsync("volume", "delete", "e2e-ns");
        Assert.Equal(ExitCodes.Refused, exported.ExitCode);
        Assert.StartsWith("novastor: ", exported.Error, StringComparison.Ordinal);

        var removed = await shared.RunAsync("subsystem", "remove-ns", Nqn, "--nsid", "1");
        Harness.Succeeded(removed);
        Assert.Equal($"removed namespace 1 from {Nqn}\n", removed.Out);
        Harness.Succeeded(await shared.RunAsync("subsystem", "delete", Nqn));
        Harness.Succeeded(await shared.RunAsync("volume", "delete", "e2e-ns"));

        var gone = await shared.RunAsync("subsystem", "get", Nqn);
        Assert.Equal(ExitCodes.Refused, gone.ExitCode);
    }

    /// <summary>The namespace's counters show the one 4 KiB write, in the table and in JSON.</summary>
    private async Task StatsCountTheWriteAsync(string nqn)
    {
        var stats = await shared.RunAsync("stats", "--nqn", nqn);
        Harness.Succeeded(stats);
        Assert.Matches($@"(?m)^  {System.Text.RegularExpressions.Regex.Escape(nqn)}\s+1\s+e2e-ns\s+\d+\s+[1-9]\d*\s", stats.Out);
        Assert.DoesNotContain(RunningTarget.DefaultNqn, stats.Out, StringComparison.Ordinal);
        using var json = await shared.JsonAsync("stats", "--nqn", nqn);
        var counters = json.RootElement.GetProperty("namespaces").EnumerateArray().Single().GetProperty("counters");
        Assert.Equal(1UL, counters.GetProperty("write_commands").GetUInt64());
        Assert.Equal(4096UL, counters.GetProperty("bytes_written").GetUInt64());
        var latency = counters.GetProperty("latency");
        Assert.NotEqual(0, latency.GetProperty("upper_bounds_us").GetArrayLength());
        Assert.Equal(latency.GetProperty("upper_bounds_us").GetArrayLength(), latency.GetProperty("counts").GetArrayLength());
    }

    [Fact]
    public async Task Hosts_listeners_controllers_and_capacity_answer()
    {
        const string Nqn = "nqn.2026-11.io.novastor:e2e-hosts";
        const string Host = "nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427";
        Harness.Succeeded(await shared.RunAsync("subsystem", "create", Nqn));
        var admitted = await shared.RunAsync("host", "add", Nqn, Host);
        Harness.Succeeded(admitted);
        Assert.Equal($"{Nqn} admits {Host}\n", admitted.Out);
        var any = await shared.RunAsync("host", "allow-any", Nqn, "true");
        Harness.Succeeded(any);
        Assert.Equal($"{Nqn} admits any host\n", any.Out);
        Harness.Succeeded(await shared.RunAsync("host", "remove", Nqn, Host));
        string port = RunningTarget.FreePort().ToString(CultureInfo.InvariantCulture);
        var linked = await shared.RunAsync("subsystem", "add-listener", Nqn, "--address", "127.0.0.1", "--port", port);
        Harness.Succeeded(linked);
        Assert.Matches($@"^{Regex.Escape(Nqn)} is served on port ids \d+
$", linked.Out);
        var unlinked = await shared.RunAsync("subsystem", "remove-listener", Nqn, "--address", "127.0.0.1", "--port", port);
        Harness.Succeeded(unlinked);
        Assert.Equal($"{Nqn} is served on no listener\n", unlinked.Out);
        Harness.Succeeded(await shared.RunAsync("subsystem", "delete", Nqn));

        var listeners = await shared.RunAsync("listener", "list");
        Harness.Succeeded(listeners);
        Assert.Matches($@"(?m)^\s*\d+\s+\S+\s+{NvmePort}\s+yes\s", listeners.Out);

        var controllers = await shared.RunAsync("controller", "list");
        Harness.Succeeded(controllers);

        var capacity = await shared.RunAsync("volume", "capacity");
        Harness.Succeeded(capacity);
        Assert.Matches(@"available\s+: \S+", capacity.Out);
    }

    [Fact]
    public async Task A_host_added_with_a_secret_must_authenticate_and_the_secret_is_never_shown()
    {
        const string Nqn = "nqn.2026-12.io.novastor:e2e-auth";
        const string Host = "nqn.2014-08.org.nvmexpress:uuid:6a0e1f52-7c3d-4b1e-9f20-0000000000a1";
        var generated = await Harness.RunAsync("gen-dhchap-key");
        Harness.Succeeded(generated);
        string secret = generated.Out.Trim();
        Harness.Succeeded(await shared.RunAsync("subsystem", "create", Nqn));

        var admitted = await shared.RunAsync("host", "add", Nqn, Host, "--dhchap-secret", secret, "--dhchap-hash", "sha512");
        Harness.Succeeded(admitted);
        Assert.Equal($"{Nqn} admits {Host} (it must authenticate: DH-HMAC-CHAP)\n", admitted.Out);
        var shown = await shared.RunAsync("subsystem", "get", Nqn);
        Harness.Succeeded(shown);
        Assert.Contains($"authenticated : {Host} (DH-HMAC-CHAP, sha512)", shown.Out, StringComparison.Ordinal);
        using (var json = await shared.JsonAsync("subsystem", "get", Nqn))
        {
            var entry = Assert.Single(json.RootElement.GetProperty("authenticated_hosts").EnumerateArray());
            Assert.Equal(Host, entry.GetProperty("host_nqn").GetString());
            Assert.False(entry.GetProperty("bidirectional").GetBoolean());
            Assert.Equal("sha512", entry.GetProperty("hash").GetString());
        }

        string[] fabrics = ["-a", "127.0.0.1", "-s", NvmePort, "-n", Nqn, "-q", Host];
        var refused = await Harness.RunAsync(["connect", .. fabrics]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("no host secret", refused.Error, StringComparison.Ordinal);
        Harness.Succeeded(await Harness.RunAsync(["connect", .. fabrics, "--dhchap-secret", secret]));

        string mistyped = secret[..14] + (secret[14] == 'x' ? 'y' : 'x') + secret[15..];
        var bad = await shared.RunAsync("host", "add", Nqn, Host, "--dhchap-secret", mistyped);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("not a DH-HMAC-CHAP secret", bad.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(mistyped[10..30], bad.All, StringComparison.Ordinal);
        Assert.DoesNotContain(secret[10..30], shown.All + bad.All, StringComparison.Ordinal);
        Harness.Succeeded(await shared.RunAsync("subsystem", "delete", Nqn));
    }

    [Fact]
    public async Task Https_against_the_insecure_control_plane_fails_the_handshake_with_exit_2()
    {
        // Usable PEM credentials in <data>/control-plane/, found by default; the endpoint speaks plaintext HTTP/2.
        using var dir = new TempDir();
        string folder = Path.Combine(dir.Path, "control-plane");
        Directory.CreateDirectory(folder);
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=novastor-cli-test", key, HashAlgorithmName.SHA256);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
            await File.WriteAllTextAsync(Path.Combine(folder, "client.pem"), certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(folder, "client-key.pem"), key.ExportPkcs8PrivateKeyPem());
            await File.WriteAllTextAsync(Path.Combine(folder, "ca.pem"), certificate.ExportCertificatePem());
        }

        string address = "https://127.0.0.1:" + shared.ControlPlanePort.ToString(CultureInfo.InvariantCulture);
        var run = await Harness.RunAsync("volume", "list", "--control-plane", address, "--data", dir.Path);
        Assert.Equal(ExitCodes.Unreachable, run.ExitCode);
        Assert.StartsWith($"novastor: TLS handshake with the control plane at {address} failed: ", run.Error, StringComparison.Ordinal);
        Assert.Single(run.Error.TrimEnd('\n').Split('\n'));
        Assert.Empty(run.Out);
        Harness.NoStackTrace(run);
    }
}
