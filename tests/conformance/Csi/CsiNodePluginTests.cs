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
    private const int GuestShellPort = 9102;
    private const string NodeName = "guest-node";

    /// <summary>How long the steps may take in the emulated guest (they take a few minutes).</summary>
    private static readonly TimeSpan StepsLimit = TimeSpan.FromMinutes(15);

    [Fact]
    public async Task Node_plugin_on_the_linux_host_stages_publishes_grows_survives_a_target_restart_and_refuses_what_it_must()
    {
        using var tools = new GuestTools("novastor-csi");
        int csiPort = RunningTarget.FreePort(), hungCsiPort = RunningTarget.FreePort(), shellPort = RunningTarget.FreePort();
        // Two listeners: every volume has two paths, and the kernel host connects both (native multipath).
        await using var driver = await CsiDriver.StartAsync(["storage-1"], nvmeAddresses: ports => ports.Select(port => $"10.0.2.2:{port}"), twoListeners: true);
        var shell = new GuestShell(shellPort, output.WriteLine);
        Exception? failure = null;

        async Task DriveAsync()
        {
            try
            {
                using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{csiPort}");
                using var hungChannel = GrpcChannel.ForAddress($"http://127.0.0.1:{hungCsiPort}");
                var steps = new CsiNodeSteps(driver, new CsiV1.Identity.IdentityClient(channel), new CsiV1.Node.NodeClient(channel),
                    new CsiV1.Identity.IdentityClient(hungChannel), new CsiV1.Node.NodeClient(hungChannel), shell, output);
                await steps.RunAsync(NodeName).WaitAsync(StepsLimit);
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
                ["NOVASTOR_GUEST_HOSTFWD"] = $"{csiPort}:{GuestCsiPort} {hungCsiPort}:{GuestHungCsiPort} {shellPort}:{GuestShellPort}",
                [tools.Environment.Key] = tools.Environment.Value,
            },
            Limit: StepsLimit + TimeSpan.FromMinutes(4),
            Actions: line => line.Contains("NOVASTOR-CSI-READY", StringComparison.Ordinal) ? DriveAsync : null);
        var variables = new Dictionary<string, string>
        {
            ["NODE_NAME"] = NodeName,
            ["CSI_PORT"] = $"{GuestCsiPort}",
            ["HUNG_CSI_PORT"] = $"{GuestHungCsiPort}",
            ["SHELL_PORT"] = $"{GuestShellPort}",
            ["DONE_LIMIT"] = $"{(int)StepsLimit.TotalSeconds + 60}",
        };
        var run = await new KernelHostScenario(guest, output).RunAsync("csi-node.sh", driver.Nodes[0].Target, variables: variables, setup: setup);
        Assert.True(failure is null, $"a step failed: {failure}");
        Assert.True(run.ExitCode == 0, $"csi-node.sh failed in the guest.\n{run.Describe()}");
        Assert.Contains("NOVASTOR-SCENARIO-OK", run.Console, StringComparison.Ordinal);
        Assert.True(run.KernelIoErrors.Count == 0, $"the guest kernel logged I/O errors:\n{string.Join('\n', run.KernelIoErrors)}");
    }
}
