using NovaStor.Conformance.KernelHost;
using NovaStor.Csi.Tests;
using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Conformance.Csi;

/// <summary>
/// One boot of csi-node.sh: the NativeAOT node plugin in the guest, its socket and the guest's
/// command channel forwarded from 127.0.0.1; once the guest says the plugin is up, the steps drive
/// it from here, and the guest is told their verdict before it prints its logs and powers off.
/// </summary>
internal static class CsiGuestScenario
{
    /// <summary>The guest port of the command channel (<see cref="GuestShell"/>).</summary>
    private const int GuestShellPort = 9102;

    /// <param name="forwards">Host port to guest port for the plugins' sockets (socat relays them in the guest).</param>
    /// <param name="variables">The script's variables beyond SHELL_PORT and DONE_LIMIT (NODE_NAME, CSI_PORT, ...).</param>
    public static async Task RunAsync(GuestImage guest, ITestOutputHelper output, CsiDriver driver, IReadOnlyDictionary<int, int> forwards,
        Dictionary<string, string> variables, TimeSpan stepsLimit, Func<GuestShell, Task> steps)
    {
        using var tools = new GuestTools("novastor-csi");
        int shellPort = RunningTarget.FreePort();
        var shell = new GuestShell(shellPort, output.WriteLine);
        Exception? failure = null;

        async Task DriveAsync()
        {
            try
            {
                await steps(shell).WaitAsync(stepsLimit);
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
                ["NOVASTOR_GUEST_HOSTFWD"] = string.Join(' ', forwards.Append(new(shellPort, GuestShellPort)).Select(f => $"{f.Key}:{f.Value}")),
                [tools.Environment.Key] = tools.Environment.Value,
            },
            Limit: stepsLimit + TimeSpan.FromMinutes(4),
            Actions: line => line.Contains("NOVASTOR-CSI-READY", StringComparison.Ordinal) ? DriveAsync : null);
        variables["SHELL_PORT"] = $"{GuestShellPort}";
        variables["DONE_LIMIT"] = $"{(int)stepsLimit.TotalSeconds + 60}";
        var run = await new KernelHostScenario(guest, output).RunAsync("csi-node.sh", driver.Nodes[0].Target, variables: variables, setup: setup);
        Assert.True(failure is null, $"a step failed: {failure}");
        Assert.True(run.ExitCode == 0, $"csi-node.sh failed in the guest.\n{run.Describe()}");
        Assert.Contains("NOVASTOR-SCENARIO-OK", run.Console, StringComparison.Ordinal);
        Assert.True(run.KernelIoErrors.Count == 0, $"the guest kernel logged I/O errors:\n{string.Join('\n', run.KernelIoErrors)}");
    }
}
