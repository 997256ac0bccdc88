using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>
/// Kestrel's entry point: every accepted connection becomes one NVMe/TCP queue, bound to the
/// engine lane <paramref name="lanes"/> hands out (round robin over the reactors).
/// </summary>
internal sealed class NvmeTcpConnectionHandler(SubsystemRegistry registry, TargetLimits limits, TimeProvider time,
    Func<EngineLane> lanes, ILogger<NvmeTcpConnectionHandler> logger) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) =>
        new TcpQueue(connection, registry, limits, time, logger, lanes()).RunAsync();
}
