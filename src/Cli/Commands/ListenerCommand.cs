using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using NovaStor.Cli.Output;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Commands;

/// <summary>listener: the NVMe/TCP ports the target serves on (add, remove, list).</summary>
internal static class ListenerCommand
{
    public static Command Create(CliContext context) => new("listener", "Manage the target's NVMe/TCP listeners (ports) over its control plane")
    {
        Add(context),
        Remove(context),
        List(context),
    };

    private static Command Add(CliContext context)
    {
        var address = new Option<string>("--address") { Description = "The IP address to listen on", Required = true, HelpName = "address" };
        var port = new Option<uint>("--port")
        {
            Description = "The TCP port",
            Required = true,
            CustomParser = Numbers.Parser(1u, (uint)ushort.MaxValue, "--port"),
            HelpName = "port",
        };
        return ControlPlaneSession.Command(context, "add", "Listen on another address and port (every subsystem is served there)", [address, port], async call =>
        {
            var listener = await Client(call).AddListenerAsync(new AddListenerRequest
            {
                Address = call.Result.GetValue(address),
                Port = call.Result.GetValue(port),
            }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => "added listener " + ListenerReport.Line(listener), () => ListenerReport.Json(listener)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command Remove(CliContext context)
    {
        var portId = PortId();
        return ControlPlaneSession.Command(context, "remove", "Stop a listener (its controllers are torn down; static ones cannot be removed)", [portId], async call =>
        {
            uint id = call.Result.GetValue(portId);
            await Client(call).RemoveListenerAsync(new RemoveListenerRequest { PortId = id }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => string.Create(CultureInfo.InvariantCulture, $"removed listener port id {id}\n"), () => new JsonObject { ["removed_port_id"] = id })
                .ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command List(CliContext context) =>
        ControlPlaneSession.Command(context, "list", "List the listeners and their ANA group states", [], async call =>
        {
            var response = await Client(call).ListListenersAsync(new ListListenersRequest(), call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => ListenerReport.List(response.Listeners), () => ListenerReport.ListJson(response.Listeners)).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Argument<uint> PortId() => new("portid")
    {
        Description = "The listener's port id (PORTID in the discovery log; see listener list)",
        CustomParser = Numbers.Parser(0u, (uint)ushort.MaxValue, "port id"),
    };

    internal static Listeners.ListenersClient Client(ControlPlaneCall call) => new(call.Channel);
}
