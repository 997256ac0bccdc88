using Microsoft.AspNetCore.Connections;
using NovaStor.Target.Core;

namespace NovaStor.Target.Hosting;

/// <summary>
/// Runtime control of the target's ports: ANA states and stopping a listener. Tests drive it
/// today (a path made inaccessible, then its listener stopped, while hosts keep I/O running);
/// the control plane will.
/// </summary>
internal sealed class ListenerControl(IServiceProvider services)
{
    private readonly Dictionary<ushort, IConnectionListener> _bound = [];
    private readonly Lock _lock = new();

    private SubsystemRegistry Registry => (SubsystemRegistry)services.GetService(typeof(SubsystemRegistry))!;

    internal void Bound(ushort portId, IConnectionListener listener)
    {
        lock (_lock)
        {
            _bound[portId] = listener;
        }
    }

    /// <summary>Sets the ANA state of <paramref name="group"/> on port <paramref name="portId"/> (see <see cref="SubsystemRegistry.SetAnaState"/>).</summary>
    public bool SetAnaState(ushort portId, uint group, Protocol.AnaState state) => Registry.SetAnaState(portId, group, state);

    /// <summary>
    /// Stops one listener: it accepts no more connections (hosts get "connection refused"), every
    /// controller that came through it is torn down, and discovery stops listing it. The other
    /// ports keep serving.
    /// </summary>
    public async Task StopListenerAsync(ushort portId)
    {
        var port = Registry.FindPort(portId) ?? throw new ArgumentException($"There is no port {portId}.", nameof(portId));
        IConnectionListener? listener;
        lock (_lock)
        {
            _bound.Remove(portId, out listener);
        }

        port.IsStopped = true;
        Registry.DiscoveryChanged();
        if (listener is not null)
        {
            await listener.UnbindAsync().ConfigureAwait(false);
        }

        foreach (var subsystem in Registry.Subsystems.Append(Registry.Discovery))
        {
            foreach (var controller in subsystem.ControllersOnPort(portId))
            {
                controller.Teardown($"listener {port.Address}:{port.Port} stopped");
            }
        }
    }
}
