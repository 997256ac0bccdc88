using NovaStor.Csi.Controller;
using NovaStor.Csi.Node;

namespace NovaStor.Csi.Identity;

/// <summary>Whether the plugin can do its work now (Probe), and whether it serves the Controller service.</summary>
internal interface IPluginReadiness
{
    bool ServesController { get; }

    Task<bool> IsReadyAsync(CancellationToken cancellationToken);
}

/// <summary>The controller is ready while at least one storage node's control plane answers.</summary>
internal sealed class ControllerReadiness(VolumeProvisioner provisioner, StorageNodes nodes) : IPluginReadiness
{
    public bool ServesController => true;

    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken) =>
        nodes.All.Count > 0 && (await provisioner.CapacitiesAsync(nodes.All, cancellationToken).ConfigureAwait(false)).Count > 0;
}

/// <summary>
/// The node plugin is ready for its default attach mode: kernel when nvme-cli runs and the kernel's
/// NVMe over Fabrics host is loaded (/dev/nvme-fabrics); managed when the ublk driver is (/dev/ublk-control).
/// </summary>
internal sealed class NodeReadiness(ExternalCommands commands, Microsoft.Extensions.Options.IOptions<CsiOptions> options) : IPluginReadiness
{
    public bool ServesController => false;

    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        // Ready for the node's default attach mode: managed needs the ublk driver, kernel nvme-fabrics and nvme-cli.
        if (options.Value.Node.AttachMode == Controller.VolumeContext.AttachManaged)
        {
            return File.Exists(Path.Combine(options.Value.Node.DevRoot, "ublk-control"));
        }

        if (!File.Exists(Path.Combine(options.Value.Node.DevRoot, "nvme-fabrics")))
        {
            return false;
        }

        try
        {
            return (await commands.RunAsync("nvme", ["version"], cancellationToken).ConfigureAwait(false)).Succeeded;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or CommandTimeoutException)
        {
            return false; // not installed, or hung
        }
    }
}
