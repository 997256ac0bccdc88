using System.CommandLine;
using NovaStor.Cli.Output;
using NovaStor.Initiator;
using NovaStor.Initiator.Discovery;

namespace NovaStor.Cli.Commands;

/// <summary>discover: connect to the discovery controller, read the discovery log (70h), print it, disconnect.</summary>
internal static class DiscoverCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions(discovery: true);
        var format = OutputFormat.Create();
        var command = new Command("discover", "Read the discovery log of a discovery controller (-n defaults to the discovery NQN)");
        fabrics.AddTo(command, withQueues: false);
        command.Add(format);
        command.SetAction((result, token) => Failures.GuardAsync(context, "discover", async () =>
        {
            var endPoint = await fabrics.ResolveAsync(result, token).ConfigureAwait(false);
            var options = new HostQueueOptions { HeaderDigest = result.GetValue(fabrics.HeaderDigest), DataDigest = result.GetValue(fabrics.DataDigest) };
            DiscoveryLogPage page;
            try
            {
                // KATO 0: a discovery connection that only reads the log needs no keep-alive (as libnvme).
                var controller = await HostController.ConnectAsync(endPoint, fabrics.GetNqn(result), fabrics.Host(result), 0, options, enable: true, token).ConfigureAwait(false);
                await using (controller.ConfigureAwait(false))
                {
                    page = await NvmeDiscovery.ReadLogPageAsync(controller, token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (Failures.IsTransport(ex) && !token.IsCancellationRequested)
            {
                throw new NvmeTransportException($"could not read the discovery log of {fabrics.GetNqn(result)} at {endPoint}: {Failures.Describe(ex)}", ex);
            }

            await context.Out.WriteAsync(OutputFormat.IsJson(result, format) ? JsonText.Write(DiscoveryReport.Json(page)) + "\n" : DiscoveryReport.Text(page)).ConfigureAwait(false);
            return ExitCodes.Success;
        }, token));
        return command;
    }
}
