using System.CommandLine;

namespace NovaStor.Cli.Commands;

/// <summary>flush: the Flush command on -N: every completed write becomes durable.</summary>
internal static class FlushCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var space = new NamespaceOptions();
        var command = new Command("flush", "Flush a namespace (completed writes become durable)");
        fabrics.AddTo(command);
        space.AddNamespace(command);
        command.SetAction((result, token) => Failures.GuardAsync(context, "flush", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                var ns = Session.Namespace(controller, result.GetValue(space.NamespaceId));
                (await ns.FlushAsync(token).ConfigureAwait(false)).ThrowIfFailed("Flush");
                await context.Out.WriteLineAsync($"flush: Success (namespace {ns.Id})").ConfigureAwait(false);
                return ExitCodes.Success;
            }, token), token));
        return command;
    }
}
