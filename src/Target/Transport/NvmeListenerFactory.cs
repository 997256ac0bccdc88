using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.Transport;

/// <summary>
/// Kestrel's transport for the NVMe/TCP listeners: the io_uring reactors when the queues run on
/// them, Kestrel's own socket transport otherwise. Kestrel keeps what it does for every listener
/// (binding, the accept loop, connection lifetime, stopping); this factory only chooses where the
/// bytes go and keeps each listener, so <see cref="ListenerControl"/> can stop one port while the
/// others serve (a path going away, for multipath hosts). Other endpoints fall through to Kestrel.
/// </summary>
internal sealed class NvmeListenerFactory(
    ListenerConfiguration listeners,
    SubsystemFactory subsystems,
    ListenerControl control,
    IOptions<SocketTransportOptions> socketOptions,
    ILoggerFactory loggers) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly SocketTransportFactory _sockets = new(socketOptions, loggers);

    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint ip && PortOf(ip) is not null;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        BindAsync(PortOf((IPEndPoint)endpoint)!, cancellationToken);

    /// <summary>Binds a port: a configured one (Kestrel runs its accept loop) or one added at runtime (the caller runs it).</summary>
    public async ValueTask<IConnectionListener> BindAsync(Core.TargetPort port, CancellationToken cancellationToken = default)
    {
        var endpoint = new IPEndPoint(port.Address, port.Port);
        IConnectionListener listener = subsystems.UsesReactorTransport
            ? ReactorConnectionListener.Bind(endpoint)
            : await _sockets.BindAsync(endpoint, cancellationToken).ConfigureAwait(false);
        control.Bound(port.Id, listener);
        return listener;
    }

    private Core.TargetPort? PortOf(IPEndPoint endpoint) =>
        listeners.Ports.FirstOrDefault(p => p.Port == endpoint.Port && p.Address.Equals(endpoint.Address));
}
