using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>Kestrel's entry point: every accepted connection becomes one NVMe/TCP queue.</summary>
internal sealed class NvmeTcpConnectionHandler(SubsystemRegistry registry, TargetLimits limits, TimeProvider time, ILogger<NvmeTcpConnectionHandler> logger) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) =>
        new TcpQueue(connection, registry, limits, time, logger).RunAsync();
}
