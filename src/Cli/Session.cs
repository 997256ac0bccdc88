using System.CommandLine;
using NovaStor.Initiator;

namespace NovaStor.Cli;

/// <summary>
/// The connectionless pattern of nvme-cli's fabrics commands: connect with the command line's
/// options, run one piece of work, disconnect cleanly (CC.SHN shutdown) whatever happened.
/// </summary>
internal static class Session
{
    public static async Task<int> WithControllerAsync(FabricsOptions fabrics, ParseResult result, Func<NvmeConnectionOptions, NvmeConnectionOptions>? adjust, Func<NvmeController, Task<int>> work, CancellationToken cancellationToken)
    {
        var endPoint = await fabrics.ResolveAsync(result, cancellationToken).ConfigureAwait(false);
        var options = fabrics.ConnectionOptions(result);
        if (adjust is not null)
        {
            options = adjust(options);
        }

        NvmeController controller;
        try
        {
            controller = await NvmeController.ConnectAsync(endPoint, fabrics.GetNqn(result), options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (Failures.IsTransport(ex) && !cancellationToken.IsCancellationRequested)
        {
            throw new NvmeTransportException($"could not connect to {fabrics.GetNqn(result)} at {endPoint}: {Failures.Describe(ex)}", ex);
        }

        await using (controller.ConfigureAwait(false))
        {
            int code = await work(controller).ConfigureAwait(false);
            // Not the caller's token: after Ctrl-C (perf reports then) the shutdown still runs, bounded by the admin timeout.
            await controller.DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
            return code;
        }
    }

    /// <summary>The namespace the command names, or a one-line error when it is not active.</summary>
    public static NvmeNamespace Namespace(NvmeController controller, uint namespaceId)
    {
        try
        {
            return controller.Namespace(namespaceId);
        }
        catch (KeyNotFoundException ex)
        {
            var active = controller.Namespaces.Select(n => n.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            throw new CliUsageException($"{ex.Message} (active: {string.Join(", ", active)})");
        }
    }
}
