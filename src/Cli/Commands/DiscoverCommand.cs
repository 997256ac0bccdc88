using System.CommandLine;
using NovaStor.Cli.Output;
using NovaStor.Initiator;
using NovaStor.Initiator.Discovery;

namespace NovaStor.Cli.Commands;

/// <summary>discover: connect to the discovery controller, read the discovery log (70h), print it, disconnect.</summary>
internal static class DiscoverCommand
{
    /// <summary>--timeout: the longest the whole command may take; 0 (the default) waits as long as the connection lives.</summary>
    private static Option<int> CreateTimeout() => new("--timeout")
    {
        Description = "Seconds the whole command may take (connect, read the log, disconnect) before it fails with exit code 2; 0 waits without limit",
        DefaultValueFactory = _ => 0,
        CustomParser = Numbers.Parser(0, 86400, "--timeout"),
        HelpName = "seconds",
    };

    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions(discovery: true);
        var format = OutputFormat.Create();
        var timeout = CreateTimeout();
        var command = new Command("discover", "Read the discovery log of a discovery controller (-n defaults to the discovery NQN)");
        fabrics.AddTo(command, withQueues: false);
        command.Add(format);
        command.Add(timeout);
        command.SetAction((result, token) => Failures.GuardAsync(context, "discover", async () =>
        {
            var endPoint = await fabrics.ResolveAsync(result, token).ConfigureAwait(false);
            var options = new HostQueueOptions { HeaderDigest = result.GetValue(fabrics.HeaderDigest), DataDigest = result.GetValue(fabrics.DataDigest), Authentication = fabrics.Secrets(result) };
            int seconds = result.GetValue(timeout);
            // A target that accepts the connection but never answers (stopped, wedged) ends the
            // command after --timeout: what a health check needs.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            if (seconds > 0)
            {
                deadline.CancelAfter(TimeSpan.FromSeconds(seconds));
            }

            DiscoveryLogPage page;
            try
            {
                // KATO 0: a discovery connection that only reads the log needs no keep-alive (as libnvme).
                var controller = await HostController.ConnectAsync(endPoint, fabrics.GetNqn(result), fabrics.Host(result), 0, options, enable: true, deadline.Token).ConfigureAwait(false);
                await using (controller.ConfigureAwait(false))
                {
                    page = await NvmeDiscovery.ReadLogPageAsync(controller, deadline.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !token.IsCancellationRequested)
            {
                throw new NvmeTransportException($"could not read the discovery log of {fabrics.GetNqn(result)} at {endPoint}: no answer within {seconds} s (--timeout)", ex);
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
