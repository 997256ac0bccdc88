using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NovaStor.Target.Core;
using NovaStor.Target.Transport;

namespace NovaStor.Target.Hosting;

/// <summary>
/// Runtime control of the target's ports: ANA states, adding a listener and stopping one. The
/// control plane drives it, and tests (a path made inaccessible, then its listener stopped, while
/// hosts keep I/O running).
/// </summary>
internal sealed class ListenerControl(IServiceProvider services)
{
    private readonly Dictionary<ushort, IConnectionListener> _bound = [];
    private readonly Dictionary<ushort, RuntimeListener> _added = [];
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
    /// Binds a new port and serves every subsystem on it, as a configured one would be. Throws
    /// (and leaves nothing behind) when the address cannot be bound.
    /// </summary>
    public async Task<TargetPort> AddListenerAsync(IPAddress address, int portNumber)
    {
        var port = new TargetPort(Registry.NextPortId(), address, portNumber) { IsStatic = false };
        // Registered first, so that the first connection accepted finds its port.
        Registry.AddPort(port);
        try
        {
            var factory = services.GetRequiredService<NvmeListenerFactory>();
            var listener = await factory.BindAsync(port).ConfigureAwait(false);
            var handler = ActivatorUtilities.CreateInstance<NvmeTcpConnectionHandler>(services);
            var running = new RuntimeListener(listener, handler, services.GetRequiredService<ILoggerFactory>().CreateLogger("NovaStor.Target"));
            lock (_lock)
            {
                _added[port.Id] = running;
            }
        }
        catch
        {
            Registry.RemovePort(port.Id);
            lock (_lock)
            {
                _bound.Remove(port.Id);
            }

            throw;
        }

        return port;
    }

    /// <summary>Stops a listener and forgets its port (the control plane's remove).</summary>
    public async Task RemoveListenerAsync(ushort portId)
    {
        await StopListenerAsync(portId).ConfigureAwait(false);
        Registry.RemovePort(portId);
    }

    /// <summary>Stops the listeners added at runtime (the target is stopping; Kestrel stops its own).</summary>
    public async Task StopAddedListenersAsync()
    {
        RuntimeListener[] added;
        lock (_lock)
        {
            added = [.. _added.Values];
            _added.Clear();
        }

        await Task.WhenAll(added.Select(a => a.StopAsync())).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops one listener: it accepts no more connections (hosts get "connection refused"), every
    /// controller that came through it is torn down, and discovery stops listing it. The other
    /// ports keep serving.
    /// </summary>
    public async Task StopListenerAsync(ushort portId)
    {
        var port = Registry.FindPort(portId) ?? throw new ArgumentException($"There is no port {portId}.", nameof(portId));
        IConnectionListener? listener;
        RuntimeListener? added;
        lock (_lock)
        {
            _bound.Remove(portId, out listener);
            _added.Remove(portId, out added);
        }

        port.IsStopped = true;
        Registry.DiscoveryChanged();
        if (added is not null)
        {
            await added.StopAsync().ConfigureAwait(false);
        }
        else if (listener is not null)
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
