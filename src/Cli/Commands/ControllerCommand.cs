using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using NovaStor.Cli.Output;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Commands;

/// <summary>controller: the host associations connected now (list, disconnect).</summary>
internal static class ControllerCommand
{
    public static Command Create(CliContext context) => new("controller", "The controllers (host associations) connected to the target, over its control plane")
    {
        List(context),
        Disconnect(context),
    };

    private static Command List(CliContext context)
    {
        var nqn = new Option<string?>("--nqn") { Description = "Only this subsystem's controllers", HelpName = "nqn" };
        return ControlPlaneSession.Command(context, "list", "List the connected controllers", [nqn], async call =>
        {
            var response = await Client(call).ListControllersAsync(new ListControllersRequest { SubsystemNqn = call.Result.GetValue(nqn) ?? "" }, call.Options)
                .ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => ControllerListReport.Text(response.Controllers), () => ControllerListReport.Json(response.Controllers)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command Disconnect(CliContext context)
    {
        var nqn = SubsystemCommand.Nqn();
        var controllerId = new Argument<uint>("cntlid")
        {
            Description = "The controller id (see controller list)",
            CustomParser = Numbers.Parser(0u, (uint)ushort.MaxValue, "cntlid"),
        };
        return ControlPlaneSession.Command(context, "disconnect", "Tear a controller down (the host sees its queues close)", [nqn, controllerId], async call =>
        {
            string subsystem = call.Result.GetValue(nqn)!;
            uint id = call.Result.GetValue(controllerId);
            await Client(call).DisconnectControllerAsync(new DisconnectControllerRequest { SubsystemNqn = subsystem, ControllerId = id }, call.Options)
                .ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(
                () => string.Create(CultureInfo.InvariantCulture, $"disconnected controller {id} of {subsystem}\n"),
                () => new JsonObject { ["subsystem_nqn"] = subsystem, ["disconnected_controller_id"] = id }).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Controllers.ControllersClient Client(ControlPlaneCall call) => new(call.Channel);
}
