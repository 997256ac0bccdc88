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
    private const int GuestShellPort = 9102;

    private static readonly TimeSpan StepsLimit = TimeSpan.FromMinutes(15);

    [Fact]
    public async Task Managed_attach_serves_volumes_as_ublk_devices_that_keep_their_data_across_plugin_crashes_and_restages()
    {
        using var tools = new GuestTools("novastor-csi");
        int csiPort = RunningTarget.FreePort(), shellPort = RunningTarget.FreePort();
        await using var driver = await CsiDriver.StartAsync(["storage-1"], nvmeAddresses: ports => ports.Select(port => $"10.0.2.2:{port}"), twoListeners: true);
        var shell = new GuestShell(shellPort, output.WriteLine);
        Exception? failure = null;

        async Task DriveAsync()
        {
            try
            {
                using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{csiPort}");
                var steps = new CsiManagedSteps(driver, new CsiV1.Identity.IdentityClient(channel), new CsiV1.Node.NodeClient(channel), shell, output);
                await steps.RunAsync().WaitAsync(StepsLimit);
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                // The guest waits for this verdict before it prints its logs and powers off.
                try
                {
                    await shell.RunAsync($"echo {(failure is null ? "pass" : "fail")} >/tmp/csi-done", TimeSpan.FromSeconds(30));
                }
                catch (Exception e) when (e is IOException or TimeoutException or System.Net.Sockets.SocketException)
                {
                    output.WriteLine($"could not tell the guest the steps ended: {e.Message}");
                }
            }
        }

        var setup = new GuestSetup(
            Environment: new Dictionary<string, string>
            {
                ["NOVASTOR_GUEST_HOSTFWD"] = $"{csiPort}:{GuestCsiPort} {shellPort}:{GuestShellPort}",
                [tools.Environment.Key] = tools.Environment.Value,
            },
            Limit: StepsLimit + TimeSpan.FromMinutes(4),
            Actions: line => line.Contains("NOVASTOR-CSI-READY", StringComparison.Ordinal) ? DriveAsync : null);
        var variables = new Dictionary<string, string>
        {
            ["NODE_NAME"] = "guest-node",
            ["CSI_PORT"] = $"{GuestCsiPort}",
            ["SHELL_PORT"] = $"{GuestShellPort}",
            ["DONE_LIMIT"] = $"{(int)StepsLimit.TotalSeconds + 60}",
            // The node's default: the block volume, whose StorageClass says nothing, is managed too.
            ["PLUGIN_ARGS"] = "--Csi:Node:AttachMode=managed",
        };
        var run = await new KernelHostScenario(guest, output).RunAsync("csi-node.sh", driver.Nodes[0].Target, variables: variables, setup: setup);
        Assert.True(failure is null, $"a step failed: {failure}");
        Assert.True(run.ExitCode == 0, $"csi-node.sh failed in the guest.\n{run.Describe()}");
        Assert.Contains("NOVASTOR-SCENARIO-OK", run.Console, StringComparison.Ordinal);
        Assert.True(run.KernelIoErrors.Count == 0, $"the guest kernel logged I/O errors:\n{string.Join('\n', run.KernelIoErrors)}");
    }
}
