using System.CommandLine;
using NovaStor.Cli.Output;

namespace NovaStor.Cli.Commands;

/// <summary>id-ctrl: Identify Controller (as read when connecting), in nvme-cli's field names.</summary>
internal static class IdCtrlCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var format = OutputFormat.Create();
        var command = new Command("id-ctrl", "Print Identify Controller");
        fabrics.AddTo(command);
        command.Add(format);
        command.SetAction((result, token) => Failures.GuardAsync(context, "id-ctrl", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                await context.Out.WriteAsync(OutputFormat.IsJson(result, format)
                    ? JsonText.Write(ControllerReport.Json(controller.Info)) + "\n"
                    : ControllerReport.Text(controller.Info)).ConfigureAwait(false);
                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
