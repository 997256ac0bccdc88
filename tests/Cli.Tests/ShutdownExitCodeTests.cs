using System.Globalization;
using NovaStor.Initiator.Tests;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>
/// A target that closes the connections itself once CC.SHN shutdown completes (SPDK's does): the
/// association ended normally, so each command's exit code is the command's own, 0 here.
/// </summary>
public sealed class ShutdownExitCodeTests
{
    [Theory]
    [InlineData(1)] // hangs up right after answering CC.SHN
    [InlineData(2)] // hangs up right after reporting CSTS.SHST complete
    public async Task Commands_exit_0_when_the_target_hangs_up_after_shutdown(int answersBeforeClose)
    {
        await using var target = await RunningTarget.StartAsync();
        using var dir = new TempDir();
        var data = Harness.RandomBytes(4096, 5);
        await File.WriteAllBytesAsync(dir.File("in"), data);
        string[] Fabrics(CloseAfterShutdownRelay relay) =>
            ["-a", "127.0.0.1", "-s", relay.EndPoint.Port.ToString(CultureInfo.InvariantCulture), "-n", RunningTarget.DefaultNqn];

        string[][] commands =
        [
            ["id-ctrl"],
            ["write", "-S", "64", "-c", "8", "-d", dir.File("in")],
            ["read", "-S", "64", "-c", "8", "-d", dir.File("out")],
        ];
        foreach (var command in commands)
        {
            await using var relay = new CloseAfterShutdownRelay(target.EndPoint, answersBeforeClose);
            var run = await Harness.RunAsync([command[0], .. Fabrics(relay), .. command[1..]]);
            Assert.True(run.ExitCode == 0, $"{command[0]}: {run}");
            Assert.DoesNotContain("closed", run.Error, StringComparison.OrdinalIgnoreCase);
            Assert.True(relay.Closed, $"{command[0]}: the relay never saw the shutdown, so the run proved nothing");
        }

        Assert.Equal(data, await File.ReadAllBytesAsync(dir.File("out")));
    }
}
