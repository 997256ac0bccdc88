using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.AspNetCore.Connections;
using NovaStor.Protocol;
using NovaStor.Target.Core;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.ControlPlane;

/// <summary>Listeners and ANA states.</summary>
internal sealed partial class NodeState
{
    /// <summary>Binds a new port (serving every subsystem that is not limited to others), then stores it; unbinds it again if it cannot be stored.</summary>
    public Task<TargetPort> AddListenerAsync(string address, uint port, CancellationToken cancellationToken) =>
        ChangeAsync(async () =>
        {
            var ip = Endpoint(address, port);
            if (registry.Ports.FirstOrDefault(p => !p.IsStopped && p.Overlaps(ip, (int)port)) is { } overlapping)
            {
                throw Refused(StatusCode.AlreadyExists, $"{address}:{port} overlaps listener {overlapping.Id} ({overlapping.Address}:{overlapping.Port}).");
            }

            return await BindAndStoreAsync(ip, port).ConfigureAwait(false);
        }, cancellationToken);

    private static IPAddress Endpoint(string address, uint port)
    {
        if (!IPAddress.TryParse(address, out var ip))
        {
            throw Refused(StatusCode.InvalidArgument, $"'{address}' is not an IP address.");
        }

        if (port is < 1 or > 65535)
        {
            throw Refused(StatusCode.InvalidArgument, $"Port {port} is outside 1..65535.");
        }

        return ip;
    }

    /// <param name="alsoStore">More of the same change, stored in the same write as the listener (so a crash keeps both or neither).</param>
    private async Task<TargetPort> BindAndStoreAsync(IPAddress ip, uint port, Func<ExportsDocument, TargetPort, ExportsDocument>? alsoStore = null)
    {
        TargetPort added;
        try
        {
            added = await listeners.AddListenerAsync(ip, (int)port).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or AddressInUseException)
        {
            throw Refused(StatusCode.FailedPrecondition, $"Cannot listen on {ip}:{port}: {e.Message} (is the port in use, or the address not on this machine?)");
        }

        try
        {
            var current = exports.Current;
            var next = current with { Listeners = [.. current.Listeners, new StoredListener(added.Id, ip.ToString(), (int)port)] };
            exports.Save(alsoStore is null ? next : alsoStore(next, added));
        }
        catch
        {
            await listeners.RemoveListenerAsync(added.Id).ConfigureAwait(false);
            throw;
        }

        ChangeLog.Changed(logger, $"added listener {added.Id} on {ip}:{port}");
        return added;
    }

    /// <summary>
    /// Serves a subsystem on the listener at <paramref name="address"/>:<paramref name="port"/>,
    /// binding one there first when the node has none. From the first such link on, the subsystem
    /// is served on its linked listeners only.
    /// </summary>
    public Task<Subsystem> AddSubsystemListenerAsync(string nqn, string address, uint port, CancellationToken cancellationToken) =>
        ChangeAsync(async () =>
        {
            var subsystem = Changeable(nqn);
            var ip = Endpoint(address, port);
            var existing = registry.Ports.FirstOrDefault(p => !p.IsStopped && p.Port == port && p.Address.Equals(ip));
            TargetPort target;
            ushort[] linked;
            if (existing is not null)
            {
                target = existing;
                linked = [.. (subsystem.PortIds ?? []).Append(target.Id).Distinct()];
                exports.Save(WithLinks(exports.Current, subsystem, linked));
            }
            else
            {
                // A new listener and the link in one write.
                linked = [];
                target = await BindAndStoreAsync(ip, port, (document, added) =>
                {
                    linked = [.. (subsystem.PortIds ?? []).Append(added.Id).Distinct()];
                    return WithLinks(document, subsystem, linked);
                }).ConfigureAwait(false);
            }

            subsystem.SetPorts(linked);
            registry.DiscoveryChanged();
            ChangeLog.Changed(logger, $"{nqn} is served on listener {target.Id} ({target.Address}:{target.Port})");
            return subsystem;
        }, cancellationToken);

    /// <summary>Stops serving a subsystem on one listener; its controllers that came through it are torn down.</summary>
    public Task<Subsystem> RemoveSubsystemListenerAsync(string nqn, string address, uint port, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var subsystem = Changeable(nqn);
            var ip = Endpoint(address, port);
            var target = registry.Ports.FirstOrDefault(p => !p.IsStopped && p.Port == port && p.Address.Equals(ip) && subsystem.ServedOn(p.Id))
                ?? throw Refused(StatusCode.NotFound, $"{nqn} is not served on a listener at {address}:{port}.");
            var current = subsystem.PortIds ?? [.. registry.Ports.Where(p => !p.IsStopped).Select(p => p.Id)];
            ushort[] linked = [.. current.Where(id => id != target.Id)];
            exports.Save(WithLinks(exports.Current, subsystem, linked));
            subsystem.SetPorts(linked);
            registry.DiscoveryChanged();
            foreach (var controller in subsystem.ControllersOnPort(target.Id))
            {
                controller.Teardown($"{nqn} no longer served on listener {target.Id}");
            }

            ChangeLog.Changed(logger, $"{nqn} is no longer served on listener {target.Id} ({target.Address}:{target.Port})");
            return subsystem;
        }, cancellationToken);

    /// <summary><paramref name="document"/> with the listeners <paramref name="subsystem"/> is served on, by address and port.</summary>
    private ExportsDocument WithLinks(ExportsDocument document, Subsystem subsystem, ushort[] portIds)
    {
        var endpoints = registry.Ports.Where(p => portIds.Contains(p.Id)).Select(p => new StoredEndpoint(p.Address.ToString(), p.Port)).ToList();
        var stored = document.Subsystems.First(s => s.Nqn == subsystem.Nqn) with { Listeners = endpoints };
        return document with { Subsystems = [.. document.Subsystems.Where(s => s.Nqn != subsystem.Nqn), stored] };
    }

    /// <summary>Stops a listener added over the control plane; its controllers are torn down.</summary>
    public Task<bool> RemoveListenerAsync(uint portId, CancellationToken cancellationToken) =>
        ChangeAsync(async () =>
        {
            var port = Port(portId);
            if (port.IsStatic)
            {
                throw Refused(StatusCode.FailedPrecondition, $"Listener {portId} ({port.Address}:{port.Port}) is defined in the configuration file; remove it there.");
            }

            var current = exports.Current;
            bool IsThis(StoredEndpoint e) => e.Port == port.Port && IPAddress.Parse(e.Address).Equals(port.Address);
            exports.Save(current with
            {
                Listeners = [.. current.Listeners.Where(l => l.Id != port.Id)],
                AnaStates = [.. current.AnaStates.Where(a => !Matches(a, port))],
                // Subsystems linked to it keep their other listeners.
                Subsystems = [.. current.Subsystems.Select(s => s.Listeners is { } linked && linked.Any(IsThis) ? s with { Listeners = [.. linked.Where(e => !IsThis(e))] } : s)],
            });
            foreach (var subsystem in registry.Subsystems.Where(s => s.PortIds?.Contains(port.Id) == true))
            {
                subsystem.SetPorts(subsystem.PortIds!.Where(id => id != port.Id));
            }

            await listeners.RemoveListenerAsync(port.Id).ConfigureAwait(false);
            ChangeLog.Changed(logger, $"removed listener {portId} ({port.Address}:{port.Port})");
            return true;
        }, cancellationToken);

    public IReadOnlyList<TargetPort> ListListeners() => [.. registry.Ports.Where(p => !p.IsStopped)];

    /// <summary>Sets a group's ANA state on one listener; hosts connected through it get the ANA change notice.</summary>
    public Task<TargetPort> SetAnaStateAsync(uint portId, uint group, AnaState state, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var port = Port(portId);
            if (group is 0 or > TargetPort.MaxAnaGroups)
            {
                throw Refused(StatusCode.InvalidArgument, $"ANA group {group} is outside 1..{TargetPort.MaxAnaGroups}.");
            }

            var current = exports.Current;
            exports.Save(current with
            {
                AnaStates = [.. current.AnaStates.Where(a => !(Matches(a, port) && a.Group == group)),
                    new StoredAnaState(port.Address.ToString(), port.Port, group, state.ToString())],
            });
            registry.SetAnaState(port.Id, group, state);
            ChangeLog.Changed(logger, $"ANA group {group} is {state} on listener {portId} ({port.Address}:{port.Port})");
            return port;
        }, cancellationToken);

    private TargetPort Port(uint portId) =>
        registry.Ports.FirstOrDefault(p => p.Id == portId && !p.IsStopped) ?? throw Refused(StatusCode.NotFound, $"There is no listener {portId}.");

    private static bool Matches(StoredAnaState state, TargetPort port) => state.Port == port.Port && IPAddress.Parse(state.Address).Equals(port.Address);
}
