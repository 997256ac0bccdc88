using Grpc.Net.Client;
using NovaStor.Conformance.KernelHost;
using NovaStor.Csi.Tests;
using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;
using CsiV1 = NovaStor.Csi.V1;

namespace NovaStor.Conformance.Csi;

/// <summary>
/// The CSI node plugin (NativeAOT) in attach mode <c>managed</c> on Debian's 6.12 kernel in QEMU
/// (its ublk_drv): the plugin serves each volume as a ublk device through the managed initiator,
/// with the CSI controller here provisioning on an in-process storage node with two listeners
/// (two paths) that the guest reaches as 10.0.2.2 (<see cref="CsiManagedSteps"/>). One guest boot.
/// </summary>
[Collection(KernelHostCollection.Name)]
public sealed class CsiManagedAttachTests(NewerGuestImage guest, ITestOutputHelper output)
{
    private const int GuestCsiPort = 9100;

    [Fact]
    public async Task Managed_attach_serves_volumes_as_ublk_devices_that_keep_their_data_across_plugin_crashes_and_restages()
    {
        int csiPort = RunningTarget.FreePort();
        await using var driver = await CsiDriver.StartAsync(["storage-1"], nvmeAddresses: ports => ports.Select(port => $"10.0.2.2:{port}"), twoListeners: true);
        var variables = new Dictionary<string, string>
        {
            ["NODE_NAME"] = "guest-node",
            ["CSI_PORT"] = $"{GuestCsiPort}",
            // The node's default: the block volumes, whose StorageClass says nothing, are managed too.
            // A short loss timeout: a device whose target is gone is given up on in seconds.
            ["PLUGIN_ARGS"] = $"--Csi:Node:AttachMode=managed,--Csi:Node:CtrlLossTimeoutSeconds={CsiManagedSteps.LossTimeoutSeconds}",
        };
        await CsiGuestScenario.RunAsync(guest, output, driver, new Dictionary<int, int> { [csiPort] = GuestCsiPort }, variables, TimeSpan.FromMinutes(15), async shell =>
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{csiPort}");
            await new CsiManagedSteps(driver, new CsiV1.Identity.IdentityClient(channel), new CsiV1.Node.NodeClient(channel), shell, output).RunAsync();
        });
    }
}
