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
    // SQ flow control disabled: every successful read ends with its C2HData (SUCCESS flag), no
    // CapsuleResp; with the data digest, which the host checks before it completes the read.
    [InlineData("fio-verify.sh", "--disable-sqflow --data-digest")]
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
        // An operator's everyday session (and discovery) must leave the kernel log without any NVMe
        // warning at all: "clamping down" of the queue size included.
        if (scenario is "everyday.sh" or "discover.sh")
        {
            Assert.True(run.NvmeKernelWarnings.Count == 0, $"the guest kernel logged NVMe warnings during {scenario}:\n{string.Join('\n', run.NvmeKernelWarnings)}");
        }
    }

    /// <summary>
    /// The control plane changes a subsystem while the Linux host stays connected: a namespace
    /// added, a volume grown, an ANA state changed, each through the novastor CLI over mutual TLS.
    /// The host finds each change by itself (asynchronous events), on the same controller.
    /// </summary>
    [Fact]
    public async Task Linux_host_sees_namespaces_added_volumes_grown_and_ana_changes_without_reconnecting()
    {
        const string Nqn = "nqn.2026-12.io.novastor.test:online";
        int controlPort = RunningTarget.FreePort();
        await using var target = await RunningTarget.StartAsync("--NovaStor:ControlPlane:Enabled=true", $"--NovaStor:ControlPlane:Port={controlPort}");
        await RunCliAsync(target, controlPort, "volume", "create", "online-1", "--size", "16M");
        await RunCliAsync(target, controlPort, "volume", "create", "online-2", "--size", "8M");
        await RunCliAsync(target, controlPort, "subsystem", "create", Nqn, "--allow-any-host");
        await RunCliAsync(target, controlPort, "subsystem", "add-ns", Nqn, "--volume", "online-1", "--nsid", "1");
        var run = await new KernelHostScenario(guest, output).RunAsync("online-changes.sh", target, nqn: Nqn, controlPlanePort: controlPort);
        Assert.True(run.ExitCode == 0, $"online-changes.sh failed in the guest.\n{run.Describe()}");
        Assert.Contains("NOVASTOR-SCENARIO-OK", run.Console, StringComparison.Ordinal);
        Assert.True(run.KernelIoErrors.Count == 0, $"the guest kernel logged errors during online-changes.sh:\n{string.Join('\n', run.KernelIoErrors)}");
    }

    private async Task RunCliAsync(RunningTarget target, int controlPort, params string[] words)
    {
        var (code, text) = await KernelHostScenario.CliAsync(target, controlPort, words);
        output.WriteLine($"novastor {string.Join(' ', words)}: exit {code}\n{text}");
        Assert.True(code == 0, $"novastor {string.Join(' ', words)} exited {code}: {text}");
    }

    /// <summary>
    /// Native multipath over two listeners: I/O goes down the optimized path; fio --verify keeps
    /// running without an error while that path's group becomes inaccessible and then its listener
    /// stops, and the host carries on down the other path.
    /// </summary>
    [Fact]
    public async Task Multipath_host_fails_over_when_the_optimized_path_goes_inaccessible_and_its_listener_stops()
    {
        int second = RunningTarget.FreePort();
        await using var target = RunningTarget.Create();
        await target.StartAgainAsync(
            $"--NovaStor:Listeners:0:Port={target.Port}",
            $"--NovaStor:Listeners:1:Port={second}",
            "--NovaStor:Listeners:1:AnaStates:1=NonOptimized");
        var variables = new Dictionary<string, string> { ["PORT2"] = second.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        var run = await new KernelHostScenario(guest, output).RunAsync("multipath.sh", target, variables: variables);
        Assert.True(run.ExitCode == 0, $"multipath.sh failed in the guest.\n{run.Describe()}");
        Assert.Contains("NOVASTOR-SCENARIO-OK", run.Console, StringComparison.Ordinal);
        Assert.True(run.KernelIoErrors.Count == 0, $"the guest kernel logged errors during multipath.sh:\n{string.Join('\n', run.KernelIoErrors)}");
    }
}
