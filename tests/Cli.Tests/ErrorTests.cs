using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>Bad arguments and unreachable targets: a nonzero exit, a message that says what is wrong, no stack trace.</summary>
public sealed class ErrorTests
{
    [Fact]
    public async Task An_unknown_option_prints_usage_and_fails()
    {
        var run = await Harness.RunAsync("id-ctrl", "-n", RunningTarget.DefaultNqn, "--no-such-option");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("--no-such-option", run.Error, StringComparison.Ordinal);
        Assert.Contains("Usage:", run.All, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }

    [Fact]
    public async Task A_missing_nqn_prints_usage_and_fails()
    {
        var run = await Harness.RunAsync("read", "-S", "0", "-c", "1");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("'--nqn' is required", run.Error, StringComparison.Ordinal);
        Assert.Contains("Usage:", run.All, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }

    [Theory]
    [InlineData("perf", "--rw", "sideways")]
    [InlineData("read", "-z", "12q")]
    [InlineData("copy", "--slbs", "1,x", "--blocks", "1", "--sdlba", "9")]
    [InlineData("read", "-c", "0")]
    [InlineData("read", "-c", "abc")]
    [InlineData("perf", "--iodepth", "abc")]
    [InlineData("perf", "--iodepth", "0")]
    [InlineData("perf", "--bs", "100")]
    [InlineData("connect", "-i", "x")]
    [InlineData("connect", "-i", "0")]
    [InlineData("connect", "--ctrl-loss-tmo", "x")]
    [InlineData("connect", "--path", "127.0.0.1")]
    [InlineData("read", "-c", "1", "--path", "somewhere:4420")]
    public async Task Malformed_values_are_parse_errors(params string[] args)
    {
        var run = await Harness.RunAsync([.. args, "-n", RunningTarget.DefaultNqn]);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Usage:", run.All, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }

    [Theory]
    [InlineData("perf", "20000")]
    [InlineData("attach", "-1")]
    public async Task A_poll_allowance_outside_0_to_10000_is_refused_by_name(string command, string value)
    {
        var run = await Harness.RunAsync(command, "--poll-us", value, "-n", RunningTarget.DefaultNqn);
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains($"--poll-us must be between 0 and 10000, not {value}", run.All, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }

    [Theory]
    [InlineData("connect")]
    [InlineData("id-ctrl")]
    [InlineData("discover")]
    public async Task An_unreachable_port_exits_2_with_a_clear_message(string command)
    {
        string port = RunningTarget.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var run = await Harness.RunAsync(command, "-a", "127.0.0.1", "-s", port, "-n", RunningTarget.DefaultNqn);
        Assert.Equal(ExitCodes.Transport, run.ExitCode);
        Assert.Contains($"127.0.0.1:{port}", run.Error, StringComparison.Ordinal);
        Assert.Contains("refused", run.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(run.Out);
        Harness.NoStackTrace(run);
    }

    /// <summary>A listener that accepts and never answers (a stopped target): discover --timeout gives up, as a health check needs.</summary>
    [Fact]
    public async Task Discover_gives_up_after_its_timeout_when_the_target_never_answers()
    {
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        string port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var run = await Harness.RunAsync("discover", "-a", "127.0.0.1", "-s", port, "--timeout", "1");
        Assert.Equal(ExitCodes.Transport, run.ExitCode);
        Assert.Contains("no answer within 1 s", run.Error, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"discover took {clock.Elapsed}");
        Assert.Empty(run.Out);
        Harness.NoStackTrace(run);
    }

    [Fact]
    public async Task A_missing_data_file_is_one_line()
    {
        await using var target = await RunningTarget.StartAsync();
        using var dir = new TempDir();
        var run = await Harness.RunAsync("write", "-s", target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", RunningTarget.DefaultNqn, "-d", dir.File("absent"));
        Assert.Equal(ExitCodes.NvmeStatus, run.ExitCode);
        Assert.Contains("does not exist", run.Error, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }
}
