using System.CommandLine;
using NovaStor.Cli.Output;

namespace NovaStor.Cli.Commands;

/// <summary>id-ns: Identify Namespace of -N (as scanned when connecting), in nvme-cli's field names.</summary>
internal static class IdNsCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var format = OutputFormat.Create();
        var command = new Command("id-ns", "Print Identify Namespace");
        fabrics.AddTo(command);
        space.AddNamespace(command);
        command.Add(format);
        command.SetAction((result, token) => Failures.GuardAsync(context, "id-ns", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                var info = Session.Namespace(controller, result.GetValue(space.NamespaceId)).Info;
                await context.Out.WriteAsync(OutputFormat.IsJson(result, format)
                    ? JsonText.Write(NamespaceReport.Json(info)) + "\n"
                    : NamespaceReport.Text(info)).ConfigureAwait(false);
                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
