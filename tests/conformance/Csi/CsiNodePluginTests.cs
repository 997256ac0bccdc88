using Grpc.Net.Client;
using NovaStor.Conformance.KernelHost;
using NovaStor.Csi.Tests;
using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;
using CsiV1 = NovaStor.Csi.V1;

namespace NovaStor.Conformance.Csi;

/// <summary>
/// The CSI node plugin (NativeAOT, scripts/publish-guest-tools.sh) on the Linux NVMe/TCP host in
/// the QEMU guest, driven from here over its socket as the kubelet drives it, with the CSI
/// controller here provisioning on an in-process storage node that the guest reaches as 10.0.2.2:
/// stage, publish, files, unstage and stage again; online growth of ext4 and xfs; a target restart
/// under writes; block mode with fio verify; a wrong NGUID refused before any connect; a hung
/// `nvme` killed at the command timeout (<see cref="CsiNodeSteps"/>). One guest boot for all.
/// </summary>
[Collection(KernelHostCollection.Name)]
public sealed class CsiNodePluginTests(GuestImage guest, ITestOutputHelper output)
{
    private const int GuestCsiPort = 9100;
    private const int GuestHungCsiPort = 9101;
    private const string NodeName = "guest-node";

    /// <summary>How long the steps may take in the emulated guest (they take a few minutes).</summary>
    private static readonly TimeSpan StepsLimit = TimeSpan.FromMinutes(15);

    [Fact]
    public async Task Node_plugin_on_the_linux_host_stages_publishes_grows_survives_a_target_restart_and_refuses_what_it_must()
    {
        int csiPort = RunningTarget.FreePort(), hungCsiPort = RunningTarget.FreePort();
        // Two listeners: every volume has two paths, and the kernel host connects both (native multipath).
        await using var driver = await CsiDriver.StartAsync(["storage-1"], nvmeAddresses: ports => ports.Select(port => $"10.0.2.2:{port}"), twoListeners: true);
        var variables = new Dictionary<string, string>
        {
            ["NODE_NAME"] = NodeName,
            ["CSI_PORT"] = $"{GuestCsiPort}",
            ["HUNG_CSI_PORT"] = $"{GuestHungCsiPort}",
        };
        var forwards = new Dictionary<int, int> { [csiPort] = GuestCsiPort, [hungCsiPort] = GuestHungCsiPort };
        await CsiGuestScenario.RunAsync(guest, output, driver, forwards, variables, StepsLimit, async shell =>
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{csiPort}");
            using var hungChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{hungCsiPort}");
            var steps = new CsiNodeSteps(driver, new CsiV1.Identity.IdentityClient(channel), new CsiV1.Node.NodeClient(channel),
                new CsiV1.Identity.IdentityClient(hungChannel), new CsiV1.Node.NodeClient(hungChannel), shell, output);
            await steps.RunAsync(NodeName);
        });
    }
}
