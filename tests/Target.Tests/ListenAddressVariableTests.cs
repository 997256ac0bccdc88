using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using NovaStor.Target.Hosting;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// NOVASTOR_LISTEN_ADDRESS replaces only the built-in default of NovaStor:ListenAddress: the key
/// set in any configuration source wins over it, so a container image's default never overrides
/// a mounted appsettings.json. Nothing here binds a socket (wildcard addresses are only built).
/// </summary>
public sealed class ListenAddressVariableTests
{
    private static string Bound(ConfigurationManager configuration) =>
        (configuration.GetSection(TargetOptions.Section).Get<TargetOptions>() ?? new TargetOptions()).ListenAddress;

    [Fact]
    public void The_variable_replaces_the_loopback_default()
    {
        var configuration = new ConfigurationManager();
        ListenAddressVariable.AddTo(configuration, "0.0.0.0");
        Assert.Equal("0.0.0.0", Bound(configuration));
    }

    [Fact]
    public void Unset_or_blank_leaves_the_default()
    {
        var configuration = new ConfigurationManager();
        int sources = configuration.Sources.Count;
        ListenAddressVariable.AddTo(configuration, null);
        ListenAddressVariable.AddTo(configuration, "  ");
        Assert.Equal("127.0.0.1", Bound(configuration));
        Assert.Equal(sources, configuration.Sources.Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_configuration_key_wins_whichever_source_came_first(bool variableFirst)
    {
        var configuration = new ConfigurationManager();
        var file = new Dictionary<string, string?> { ["NovaStor:ListenAddress"] = "192.0.2.10" };
        if (variableFirst)
        {
            ListenAddressVariable.AddTo(configuration, "::");
            configuration.AddInMemoryCollection(file);
        }
        else
        {
            configuration.AddInMemoryCollection(file);
            ListenAddressVariable.AddTo(configuration, "::");
        }

        Assert.Equal("192.0.2.10", Bound(configuration));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("0.0.0.0:4420")]
    [InlineData("all")]
    public void A_value_that_is_not_an_ip_address_stops_start_up_naming_the_variable(string value)
    {
        var ex = Assert.Throws<InvalidOperationException>(() => ListenAddressVariable.AddTo(new ConfigurationManager(), value));
        Assert.Contains(ListenAddressVariable.Name, ex.Message, StringComparison.Ordinal);
        Assert.Contains(value, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_target_listens_where_the_variable_says_unless_the_key_is_given()
    {
        string data = Path.Combine(Path.GetTempPath(), "novastor-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data);
        string[] common = [$"--NovaStor:DataDirectory={data}", "--NovaStor:ControlPlane:Enabled=false", "--NovaStor:Metrics:Enabled=false", "--Logging:LogLevel:Default=Warning"];
        try
        {
            // Built, never started: the wildcard is only configured, not bound.
            await using (var app = TargetHost.Build(common, "0.0.0.0"))
            {
                var port = Assert.Single(app.Services.GetRequiredService<ListenerConfiguration>().Ports);
                Assert.Equal(IPAddress.Any, port.Address);
            }

            await using (var app = TargetHost.Build([.. common, "--address", "127.0.0.1"], "0.0.0.0"))
            {
                var port = Assert.Single(app.Services.GetRequiredService<ListenerConfiguration>().Ports);
                Assert.Equal(IPAddress.Loopback, port.Address);
            }
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
