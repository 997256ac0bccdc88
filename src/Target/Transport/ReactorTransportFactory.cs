using System.Net;
using Microsoft.AspNetCore.Connections;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.Transport;

/// <summary>
/// Kestrel's transport for the NVMe/TCP listener when the queues run on io_uring reactors. Kestrel
/// keeps what it does for every listener (configuration, binding, the accept loop, connection
/// lifetime, stopping); only where the bytes go changes. Other endpoints (and the NVMe one when the
/// reactors do not run) fall through to Kestrel's socket transport.
/// </summary>
internal sealed class ReactorTransportFactory(TargetOptions options, SubsystemFactory subsystems) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) =>
        subsystems.UsesReactorTransport && endpoint is IPEndPoint ip && ip.Port == options.Port;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult<IConnectionListener>(ReactorConnectionListener.Bind((IPEndPoint)endpoint));
}
