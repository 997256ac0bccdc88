using System.Text.RegularExpressions;
using NovaStor.Conformance.KernelHost;
using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Conformance.Ublk;

/// <summary>
/// `novastor attach` (NativeAOT, scripts/publish-guest-tools.sh) in the 6.12 guest, whose kernel
/// has ublk_drv: the target's namespace as /dev/ublkbN through the managed initiator, with no
/// nvme-tcp in the path (ublk.sh): fio verify, ext4 across detach and attach, discard and write
/// zeroes, flush, a target restart under fio verify, and the same fio load through ublk and
/// through the kernel's NVMe/TCP host for their ratio.
/// </summary>
[Collection(KernelHostCollection.Name)]
public sealed partial class UblkAttachTests(NewerGuestImage guest, ITestOutputHelper output)
{
    [Fact]
    public async Task Attach_serves_the_namespace_as_a_ublk_block_device_that_keeps_its_data()
    {
        using var tools = new GuestTools("novastor");
        await using var target = await RunningTarget.StartAsync();
        var variables = new Dictionary<string, string> { ["SIZE"] = $"{1L << 30}" };
        var setup = new GuestSetup(
            Environment: new Dictionary<string, string> { [tools.Environment.Key] = tools.Environment.Value },
            Limit: TimeSpan.FromMinutes(10));
        var run = await new KernelHostScenario(guest, output).RunAsync("ublk.sh", target, variables: variables, setup: setup);
        Assert.True(run.ExitCode == 0, $"ublk.sh failed in the guest.\n{run.Describe()}");
        Assert.Contains("NOVASTOR-SCENARIO-OK", run.Console, StringComparison.Ordinal);
        Assert.True(run.KernelIoErrors.Count == 0, $"the guest kernel logged I/O errors:\n{string.Join('\n', run.KernelIoErrors)}");

        // Nothing allocated per request: the whole process's allocations while the load's device
        // served (keep-alives and every other background thread included), spread over its requests.
        foreach (Match served in Served().Matches(run.Console))
        {
            output.WriteLine($"served {served.Groups["requests"].Value} requests, {served.Groups["per"].Value} bytes allocated per request{(served.Value.StartsWith("NOVASTOR-STEADY", StringComparison.Ordinal) ? " (the load's device)" : "")}");
        }

        var steady = Served().Matches(run.Console).Single(m => m.Value.StartsWith("NOVASTOR-STEADY", StringComparison.Ordinal));
        long requests = long.Parse(steady.Groups["requests"].Value, System.Globalization.CultureInfo.InvariantCulture);
        double perRequest = double.Parse(steady.Groups["per"].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(requests >= 5_000, $"the load's device served only {requests} requests");
        Assert.True(perRequest < 4, $"the ublk server allocated {perRequest} bytes per request over {requests} requests");

        var load = Load().Matches(run.Console).ToDictionary(m => m.Groups["device"].Value, m => double.Parse(m.Groups["iops"].Value, System.Globalization.CultureInfo.InvariantCulture));
        output.WriteLine($"4 KiB random read QD16 in the emulated guest: ublk {load["ublk"]:0} IOPS, kernel NVMe/TCP host {load["kernel"]:0} IOPS, ratio {load["ublk"] / load["kernel"]:0.00}");
    }

    [GeneratedRegex(@"NOVASTOR-LOAD (?<device>\w+) read_iops=(?<iops>[0-9.]+)")]
    private static partial Regex Load();

    [GeneratedRegex(@"(NOVASTOR-STEADY attach: )?\S+ served (?<requests>\d+) requests; \d+ bytes allocated in all while it served \((?<per>[0-9.]+) per request\)")]
    private static partial Regex Served();
}
