using System.CommandLine;
using System.Globalization;
using NovaStor.Cli.Output;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Commands;

/// <summary>ana set: the ANA state of one group on one listener (connected hosts get the ANA change event).</summary>
internal static class AnaCommand
{
    public static Command Create(CliContext context) => new("ana", "Asymmetric namespace access: the state of each ANA group on each listener")
    {
        Set(context),
    };

    private static Command Set(CliContext context)
    {
        var portId = new Option<uint>("--port-id")
        {
            Description = "The listener's port id (see listener list)",
            Required = true,
            CustomParser = Numbers.Parser(0u, (uint)ushort.MaxValue, "--port-id"),
            HelpName = "portid",
        };
        var group = new Option<uint>("--group")
        {
            Description = "ANA group, 1..32",
            Required = true,
            CustomParser = Numbers.Parser(1u, 32u, "--group"),
            HelpName = "group",
        };
        var state = new Option<string>("--state") { Description = "The group's state on that listener", Required = true, HelpName = "state" };
        state.AcceptOnlyFromAmong([.. ListenerReport.States.Keys]);
        return ControlPlaneSession.Command(context, "set", "Set an ANA group's state on a listener; connected hosts are told", [portId, group, state], async call =>
        {
            var listener = await ListenerCommand.Client(call).SetAnaStateAsync(new SetAnaStateRequest
            {
                PortId = call.Result.GetValue(portId),
                Group = call.Result.GetValue(group),
                State = ListenerReport.States[call.Result.GetValue(state)!],
            }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(
                () => string.Create(CultureInfo.InvariantCulture, $"group {call.Result.GetValue(group)} is {call.Result.GetValue(state)} on ") + ListenerReport.Line(listener),
                () => ListenerReport.Json(listener)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }
}
