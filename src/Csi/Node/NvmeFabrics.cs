using System.Globalization;

namespace NovaStor.Csi.Node;

/// <summary>
/// The kernel NVMe/TCP host through nvme-cli: connect one path with this node's identity and the
/// configured timeouts, and disconnect a subsystem's controllers. Which paths are connected is read
/// from sysfs (each controller's <c>address</c>), so a repeated stage never connects a path twice.
/// </summary>
internal sealed class NvmeFabrics(ExternalCommands commands, NvmeSysfs sysfs, NodePluginOptions options, NodeHostIdentity host)
{
    /// <summary>Connects <paramref name="path"/> ("address:port") to <paramref name="nqn"/> unless a live controller already serves it.</summary>
    /// <exception cref="IOException">nvme connect failed; the message has its words.</exception>
    public async Task ConnectAsync(string nqn, string path, CancellationToken cancellationToken)
    {
        var (address, port) = Split(path);
        if (ConnectedPaths(nqn).Contains((address, port)))
        {
            return;
        }

        var arguments = new List<string>
        {
            "connect", "--transport=tcp", $"--traddr={address}", $"--trsvcid={port}", $"--nqn={nqn}",
            $"--hostnqn={host.HostNqn}", $"--hostid={host.HostId}",
            $"--ctrl-loss-tmo={options.CtrlLossTimeoutSeconds.ToString(CultureInfo.InvariantCulture)}",
            $"--reconnect-delay={options.ReconnectDelaySeconds.ToString(CultureInfo.InvariantCulture)}",
            $"--keep-alive-tmo={options.KeepAliveTimeoutSeconds.ToString(CultureInfo.InvariantCulture)}",
        };
        // Off (-1) is the kernel's own default, so it is said by leaving the option out: nvme-cli
        // releases before the option existed (Debian 12's 2.3) refuse the whole connect over it.
        if (options.FastIoFailTimeoutSeconds >= 0)
        {
            arguments.Add($"--fast_io_fail_tmo={options.FastIoFailTimeoutSeconds.ToString(CultureInfo.InvariantCulture)}");
        }

        var result = await commands.RunAsync("nvme", arguments, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded && !ConnectedPaths(nqn).Contains((address, port)))
        {
            throw new IOException($"nvme connect to {nqn} at {path} failed: {result.Describe()}");
        }
    }

    /// <summary>Disconnects every controller of <paramref name="nqn"/> (only this volume's: each volume has its own subsystem).</summary>
    public async Task DisconnectAsync(string nqn, CancellationToken cancellationToken)
    {
        if (sysfs.ControllersOf(nqn).Count == 0)
        {
            return;
        }

        var result = await commands.RunAsync("nvme", ["disconnect", $"--nqn={nqn}"], cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded && sysfs.ControllersOf(nqn).Count > 0)
        {
            throw new IOException($"nvme disconnect of {nqn} failed: {result.Describe()}");
        }
    }

    /// <summary>The (address, port) of each controller of <paramref name="nqn"/> that is not being deleted.</summary>
    public IReadOnlySet<(string Address, string Port)> ConnectedPaths(string nqn)
    {
        var paths = new HashSet<(string, string)>();
        foreach (string controller in sysfs.ControllersOf(nqn))
        {
            if (sysfs.ControllerState(controller) is null or "deleting" or "deleting (no IO)" or "dead")
            {
                continue;
            }

            // "traddr=10.0.2.2,trsvcid=4420[,src_addr=...]"
            var fields = (sysfs.ControllerAddress(controller) ?? "").Split(',')
                .Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
            if (fields.TryGetValue("traddr", out string? a) && fields.TryGetValue("trsvcid", out string? p))
            {
                paths.Add((a, p));
            }
        }

        return paths;
    }

    /// <summary>"address:port" and "[v6]:port".</summary>
    public static (string Address, string Port) Split(string path)
    {
        int colon = path.LastIndexOf(':');
        if (colon <= 0 || colon == path.Length - 1)
        {
            throw new FormatException($"'{path}' is not address:port");
        }

        return (path[..colon].Trim('[', ']'), path[(colon + 1)..]);
    }
}
