using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Conformance.KernelHost;

/// <summary>
/// The Linux kernel NVMe/TCP host (nvme-cli, fio, ext4 in a QEMU guest with Debian's kernel)
/// against our target: the client that matters most. Each scenario is a shell script in
/// tests/conformance/scenarios that exits non-zero on the first failure. A case may add
/// configuration switches for its target (space separated, --NovaStor:...=...).
/// </summary>
[Collection(KernelHostCollection.Name)]
public sealed class KernelHostTests(GuestImage guest, ITestOutputHelper output)
{
    [Theory]
    [InlineData("discover.sh")]
    [InlineData("connect-identify.sh")]
    [InlineData("fio-verify.sh")]
    [InlineData("fio-verify.sh", "--hdr-digest --data-digest")]
    [InlineData("ext4.sh")]
    [InlineData("discard-write-zeroes.sh")]
    [InlineData("flush.sh")]
    [InlineData("keep-alive.sh")]
    [InlineData("restart.sh")]
    [InlineData("reservations.sh")]
    // Reached through discovery: connect-all goes where the discovery log points, so the log must
    // name the address the guest reaches the host by, not the listener's 127.0.0.1.
    [InlineData("everyday.sh", "", "--NovaStor:AdvertisedAddress=10.0.2.2")]
    public async Task Scenario_passes(string scenario, string connectOptions = "", string targetArguments = "")
    {
        await using var target = await RunningTarget.StartAsync(targetArguments.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var run = await new KernelHostScenario(guest, output).RunAsync(scenario, target, connectOptions);
        Assert.True(run.ExitCode == 0, $"{scenario} failed in the guest.\n{run.Describe()}");
        Assert.Contains("NOVASTOR-SCENARIO-OK", run.Console, StringComparison.Ordinal);
        Assert.True(run.KernelIoErrors.Count == 0, $"the guest kernel logged errors during {scenario}:\n{string.Join('\n', run.KernelIoErrors)}");
    }
}
