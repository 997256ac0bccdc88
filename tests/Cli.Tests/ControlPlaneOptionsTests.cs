using System.CommandLine;
using System.Globalization;
using NovaStor.ControlPlane;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>The control-plane commands' parsing and connection options, without a target.</summary>
public sealed class ControlPlaneOptionsTests
{
    private static readonly Dictionary<string, string> NoEnvironment = [];

    private static ParseResult Parse(params string[] args) =>
        Cli.Build(new CliContext(TextWriter.Null, TextWriter.Null, IsTerminal: false)).Parse(args);

    [Theory]
    [InlineData("volume", "create", "v1", "--size", "1g")]
    [InlineData("volume", "create", "v1", "--size", "512M", "--block-size", "4096", "--stripe-width", "2")]
    [InlineData("volume", "delete", "v1", "--force")]
    [InlineData("volume", "resize", "v1", "--size", "2G")]
    [InlineData("volume", "list", "-o", "json")]
    [InlineData("volume", "get", "v1")]
    [InlineData("volume", "changes", "v1", "--clear")]
    [InlineData("volume", "capacity")]
    [InlineData("subsystem", "create", "nqn.2024-01.io.test:a", "--serial", "S1", "--model", "M", "--host", "nqn.h1", "--host", "nqn.h2")]
    [InlineData("subsystem", "create", "nqn.2024-01.io.test:a", "--allow-any-host")]
    [InlineData("subsystem", "delete", "nqn.2024-01.io.test:a", "--force")]
    [InlineData("subsystem", "list")]
    [InlineData("subsystem", "get", "nqn.2024-01.io.test:a")]
    [InlineData("subsystem", "add-ns", "nqn.2024-01.io.test:a", "--volume", "v1", "--nsid", "3", "--ana-group", "2")]
    [InlineData("subsystem", "remove-ns", "nqn.2024-01.io.test:a", "--nsid", "3")]
    [InlineData("host", "add", "nqn.2024-01.io.test:a", "nqn.h1")]
    [InlineData("host", "remove", "nqn.2024-01.io.test:a", "nqn.h1", "--disconnect")]
    [InlineData("host", "allow-any", "nqn.2024-01.io.test:a", "true")]
    [InlineData("host", "allow-any", "nqn.2024-01.io.test:a", "false")]
    [InlineData("listener", "add", "--address", "127.0.0.1", "--port", "4421")]
    [InlineData("listener", "remove", "2")]
    [InlineData("listener", "list")]
    [InlineData("ana", "set", "--port-id", "1", "--group", "2", "--state", "non-optimized")]
    [InlineData("ana", "set", "--port-id", "1", "--group", "32", "--state", "persistent-loss")]
    [InlineData("controller", "list", "--nqn", "nqn.2024-01.io.test:a")]
    [InlineData("controller", "disconnect", "nqn.2024-01.io.test:a", "1")]
    [InlineData("stats")]
    [InlineData("stats", "--nqn", "nqn.2024-01.io.test:a", "--control-plane", "http://127.0.0.1:9501", "--timeout", "5")]
    [InlineData("volume", "list", "--control-plane", "https://node:9500", "--client-cert", "c.pem", "--client-key", "k.pem", "--ca", "ca.pem", "--data", "/var/lib/novastor")]
    public void Well_formed_commands_parse(params string[] args)
    {
        var result = Parse(args);
        Assert.True(result.Errors.Count == 0, string.Join("; ", result.Errors.Select(e => e.Message)));
    }

    [Theory]
    [InlineData("volume", "create", "v1")]
    [InlineData("volume", "create", "v1", "--size", "12q")]
    [InlineData("volume", "create", "v1", "--size", "0")]
    [InlineData("volume", "create", "v1", "--size", "1g", "--block-size", "1024")]
    [InlineData("volume", "create", "v1", "--size", "1g", "--stripe-width", "0")]
    [InlineData("volume", "create", "--size", "1g")]
    [InlineData("volume", "resize", "v1")]
    [InlineData("subsystem", "add-ns", "nqn.2024-01.io.test:a")]
    [InlineData("subsystem", "add-ns", "nqn.2024-01.io.test:a", "--volume", "v1", "--ana-group", "33")]
    [InlineData("subsystem", "add-ns", "nqn.2024-01.io.test:a", "--volume", "v1", "--nsid", "0")]
    [InlineData("subsystem", "remove-ns", "nqn.2024-01.io.test:a")]
    [InlineData("host", "allow-any", "nqn.2024-01.io.test:a", "maybe")]
    [InlineData("host", "add", "nqn.2024-01.io.test:a")]
    [InlineData("listener", "add", "--address", "127.0.0.1", "--port", "70000")]
    [InlineData("listener", "add", "--port", "4421")]
    [InlineData("listener", "remove", "x")]
    [InlineData("ana", "set", "--port-id", "1", "--group", "2", "--state", "sideways")]
    [InlineData("ana", "set", "--port-id", "1", "--group", "0", "--state", "optimized")]
    [InlineData("controller", "disconnect", "nqn.2024-01.io.test:a", "abc")]
    [InlineData("stats", "--timeout", "0")]
    [InlineData("stats", "-o", "yaml")]
    public async Task Malformed_commands_are_parse_errors(params string[] args)
    {
        Assert.NotEmpty(Parse(args).Errors);
        var run = await Harness.RunAsync(args);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Usage:", run.All, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }

    [Fact]
    public void Sizes_take_suffixes_as_Sizes_does()
    {
        var result = Parse("volume", "create", "v1", "--size", "512M");
        var size = result.CommandResult.Command.Options.OfType<Option<long>>().Single(o => o.Name == "--size");
        Assert.Equal(512L << 20, result.GetValue(size));
    }

    [Fact]
    public void The_defaults_are_https_loopback_and_the_data_folders_development_certificates()
    {
        var options = ControlPlaneConnection.Resolve(null, null, null, null, null, Env(NoEnvironment), _ => true);
        Assert.Equal(new Uri("https://127.0.0.1:9500"), options.Address);
        Assert.Equal(Path.Combine("data", "control-plane", "client.pem"), options.ClientCertificatePath);
        Assert.Equal(Path.Combine("data", "control-plane", "client-key.pem"), options.ClientKeyPath);
        Assert.Equal(Path.Combine("data", "control-plane", "ca.pem"), options.CaPath);
    }

    [Fact]
    public void The_environment_fills_what_the_options_leave()
    {
        var environment = new Dictionary<string, string>
        {
            ["NOVASTOR_CONTROL_PLANE"] = "https://node-a:9600",
            ["NOVASTOR_DATA"] = "/srv/novastor",
            ["NOVASTOR_CA"] = "/etc/novastor/ca.pem",
        };
        var options = ControlPlaneConnection.Resolve(null, "/home/me/client.pem", null, null, null, Env(environment), _ => true);
        Assert.Equal(new Uri("https://node-a:9600"), options.Address);
        Assert.Equal("/home/me/client.pem", options.ClientCertificatePath);
        Assert.Equal(Path.Combine("/srv/novastor", "control-plane", "client-key.pem"), options.ClientKeyPath);
        Assert.Equal("/etc/novastor/ca.pem", options.CaPath);

        var explicitly = ControlPlaneConnection.Resolve("https://node-b:9500", null, null, "/tmp/ca.pem", "/mnt/data", Env(environment), _ => true);
        Assert.Equal(new Uri("https://node-b:9500"), explicitly.Address);
        Assert.Equal(Path.Combine("/mnt/data", "control-plane", "client.pem"), explicitly.ClientCertificatePath);
        Assert.Equal("/tmp/ca.pem", explicitly.CaPath);
    }

    [Fact]
    public void Http_uses_no_certificates()
    {
        var options = ControlPlaneConnection.Resolve("http://127.0.0.1:9501", null, null, null, null, Env(NoEnvironment), _ => false);
        Assert.Equal(Uri.UriSchemeHttp, options.Address.Scheme);
        Assert.Null(options.ClientCertificatePath);
        Assert.Null(options.ClientKeyPath);
        Assert.Null(options.CaPath);
    }

    [Fact]
    public void Missing_certificates_say_where_they_were_looked_for_and_how_to_name_them()
    {
        var ex = Assert.Throws<ControlPlaneCredentialsException>(() =>
            ControlPlaneConnection.Resolve(null, null, null, "/etc/novastor/ca.pem", "/srv/novastor", Env(NoEnvironment), path => path == "/etc/novastor/ca.pem"));
        Assert.Contains(Path.Combine("/srv/novastor", "control-plane", "client.pem"), ex.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine("/srv/novastor", "control-plane", "client-key.pem"), ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ca.pem (", ex.Message, StringComparison.Ordinal);
        foreach (string name in new[] { "--client-cert", "--client-key", "--ca", "--data", "NOVASTOR_CLIENT_CERT", "NOVASTOR_CLIENT_KEY", "NOVASTOR_CA", "NOVASTOR_DATA", "http://" })
        {
            Assert.Contains(name, ex.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("127.0.0.1:9500")]
    [InlineData("ftp://127.0.0.1:9500")]
    [InlineData("not a url")]
    public void A_control_plane_that_is_no_http_url_is_refused(string address) =>
        Assert.Throws<CliUsageException>(() => ControlPlaneConnection.Resolve(address, null, null, null, null, Env(NoEnvironment), _ => true));

    [Fact]
    public async Task With_no_certificates_a_command_exits_2_and_names_the_folder_it_looked_in()
    {
        using var dir = new TempDir();
        var run = await Harness.RunAsync("volume", "list", "--control-plane", "https://127.0.0.1:9500", "--data", dir.Path);
        Assert.Equal(ExitCodes.Unreachable, run.ExitCode);
        Assert.StartsWith("novastor: ", run.Error, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(dir.Path, "control-plane", "client.pem"), run.Error, StringComparison.Ordinal);
        Assert.Single(run.Error.TrimEnd('\n').Split('\n'));
        Assert.Empty(run.Out);
        Harness.NoStackTrace(run);
    }

    [Fact]
    public async Task An_unusable_certificate_exits_2_with_one_line()
    {
        using var dir = new TempDir();
        string folder = Path.Combine(dir.Path, "control-plane");
        Directory.CreateDirectory(folder);
        foreach (string file in new[] { "client.pem", "client-key.pem", "ca.pem" })
        {
            await File.WriteAllTextAsync(Path.Combine(folder, file), "not a certificate\n");
        }

        var run = await Harness.RunAsync("volume", "list", "--data", dir.Path, "--control-plane", "https://127.0.0.1:9500");
        Assert.Equal(ExitCodes.Unreachable, run.ExitCode);
        Assert.Contains("cannot load the control plane credentials", run.Error, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }

    [Fact]
    public async Task An_unreachable_control_plane_exits_2_with_a_clear_message()
    {
        string port = RunningTarget.FreePort().ToString(CultureInfo.InvariantCulture);
        var run = await Harness.RunAsync("volume", "list", "--control-plane", $"http://127.0.0.1:{port}");
        Assert.Equal(ExitCodes.Unreachable, run.ExitCode);
        Assert.Equal($"novastor: cannot reach the control plane at http://127.0.0.1:{port}: Connection refused\n", run.Error);
        Assert.Empty(run.Out);
    }

    [Fact]
    public async Task A_malformed_control_plane_address_exits_1()
    {
        var run = await Harness.RunAsync("stats", "--control-plane", "127.0.0.1:9500");
        Assert.Equal(ExitCodes.NvmeStatus, run.ExitCode);
        Assert.Contains("--control-plane '127.0.0.1:9500'", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_channel_factory_is_the_contracts_one()
    {
        // http needs no credentials: the channel opens without touching the network.
        using var channel = ControlPlaneConnection.Open(new ControlPlaneClientOptions(new Uri("http://127.0.0.1:1")));
        Assert.Equal("127.0.0.1:1", channel.Target);
    }

    private static Func<string, string?> Env(Dictionary<string, string> values) => name => values.GetValueOrDefault(name);
}
