using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.Csi.Node;
using Xunit;

namespace NovaStor.Csi.Tests.Node;

/// <summary>External commands: output and exit code captured, a hung command killed with its children at the timeout, secrets never shown.</summary>
public sealed class ExternalCommandsTests
{
    [Fact]
    public async Task Output_errors_and_exit_code_are_captured()
    {
        var commands = new ExternalCommands(NullLogger<ExternalCommands>.Instance, TimeSpan.FromSeconds(10));
        var result = await commands.RunAsync("sh", ["-c", "echo out; echo err >&2; exit 3"], CancellationToken.None);
        Assert.Equal((3, "out\n", "err\n"), (result.ExitCode, result.Output, result.Error));
        Assert.False(result.Succeeded);
        Assert.Equal("err", result.Describe());
    }

    [Fact]
    public async Task A_hung_command_is_killed_with_what_it_started_and_the_error_says_so()
    {
        var commands = new ExternalCommands(NullLogger<ExternalCommands>.Instance, TimeSpan.FromSeconds(1));
        // Durations no other process uses, to find them in /proc afterwards.
        int child = Random.Shared.Next(100_000, 900_000), parent = child + 1;
        var watch = Stopwatch.StartNew();
        var failure = await Assert.ThrowsAsync<CommandTimeoutException>(() => commands.RunAsync("sh", ["-c", $"sleep {child} & sleep {parent}"], CancellationToken.None));
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));
        Assert.Contains("did not finish within 1 s", failure.Message, StringComparison.Ordinal);
        // Nothing it started is left running.
        await Task.Delay(200);
        var running = Directory.EnumerateDirectories("/proc").Select(p => SafeRead(Path.Combine(p, "cmdline")).Replace('\0', ' ')).ToArray();
        Assert.DoesNotContain(running, c => c.Contains($"sleep {child}", StringComparison.Ordinal) || c.Contains($"sleep {parent}", StringComparison.Ordinal));
    }

    [Fact]
    public void Secrets_are_masked_in_what_is_logged()
    {
        string line = ExternalCommands.Describe("nvme", ["connect", "--dhchap-secret=DHHC-1:00:abc:", "--dhchap-ctrl-secret", "DHHC-1:01:def:", "-n", "nqn.x"]);
        Assert.Equal("nvme connect --dhchap-secret=*** --dhchap-ctrl-secret *** -n nqn.x", line);
    }

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }
}
