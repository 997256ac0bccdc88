using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>
/// Kestrel's entry point: every accepted connection becomes one NVMe/TCP queue, bound to the
/// engine lane <paramref name="lanes"/> hands out (round robin over the reactors). A connection
/// accepted by the reactor transport runs on that lane's reactor, io_uring or AIO (<see cref="ReactorQueue"/>);
/// any other runs over Kestrel's pipes (<see cref="PipeQueue"/>).
/// </summary>
internal sealed class NvmeTcpConnectionHandler(SubsystemRegistry registry, TargetLimits limits, TimeProvider time,
    Func<EngineLane> lanes, ILogger<NvmeTcpConnectionHandler> logger) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        // Over a connection limit the connection is closed before it costs a queue (Kestrel
        // disposes it when this returns).
        var address = (connection.RemoteEndPoint as System.Net.IPEndPoint)?.Address;
        var admission = registry.Admission;
        if (admission.TryOpenConnection(address) is { } overLimit)
        {
            string remote = address?.ToString() ?? "?";
            if (admission.Throttle.ShouldLog("connections " + remote, out int suppressed))
            {
                Log.ConnectionRefused(logger, remote, overLimit, suppressed);
            }

            connection.Abort();
            return;
        }

        try
        {
            var lane = lanes();
            if (connection.Features.Get<ReactorSocketFeature>() is { } reactorSocket && lane.StreamReactor is { } reactor)
            {
                await new ReactorQueue(reactorSocket.Socket, reactor, lane, registry, limits, time, logger).RunAsync(connection).ConfigureAwait(false);
            }
            else
            {
                await new PipeQueue(connection, registry, limits, time, logger, lane).RunAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            admission.CloseConnection(address);
        }
    }
}
