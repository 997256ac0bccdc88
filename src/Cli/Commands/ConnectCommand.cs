using System.CommandLine;
using System.Globalization;
using System.Text;
using NovaStor.Cli.Output;
using NovaStor.Initiator;

namespace NovaStor.Cli.Commands;

/// <summary>
/// connect: nvme-cli's connect creates a kernel device that stays; a managed host has none, so
/// this connects, prints what the association found (identify controller and namespaces) and
/// disconnects. It proves the target is reachable with these options.
/// </summary>
internal static class ConnectCommand
{
    public static Command Create(CliContext context)
    {
        var fabrics = new FabricsOptions();
        var command = new Command(
            "connect",
            "Connect, print a summary of Identify Controller and of each namespace, then disconnect. " +
            "Nothing stays connected: there is no kernel device (/dev/nvmeX) here, every novastor command connects on its own");
        fabrics.AddTo(command);
        command.SetAction((result, token) => Failures.GuardAsync(context, "connect", () =>
            Session.WithControllerAsync(fabrics, result, null, async controller =>
            {
                await context.Out.WriteAsync(Summary(controller, result.GetValue(fabrics.IoQueues))).ConfigureAwait(false);
                return ExitCodes.Success;
            }, token), token));
        return command;
    }

    private static string Summary(NvmeController controller, int requestedQueues)
    {
        var info = controller.Info;
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"connected to {controller.SubsystemNqn} at {controller.EndPoint} as {controller.Host.HostNqn}\n");
        s.Append(CultureInfo.InvariantCulture, $"model     : {info.ModelNumber}\n");
        s.Append(CultureInfo.InvariantCulture, $"serial    : {info.SerialNumber}\n");
        s.Append(CultureInfo.InvariantCulture, $"firmware  : {info.FirmwareRevision}\n");
        s.Append(CultureInfo.InvariantCulture, $"subnqn    : {info.SubsystemNqn}\n");
        s.Append(CultureInfo.InvariantCulture, $"cntlid    : {info.ControllerId}\n");
        s.Append(CultureInfo.InvariantCulture, $"mdts      : {info.MaxDataTransferShift} ({Units.Bytes(controller.MaxTransferBytes)} per command)\n");
        s.Append(CultureInfo.InvariantCulture, $"io queues : {controller.IoQueueCount} (asked for {requestedQueues})\n");
        if (controller.Paths.Count > 1)
        {
            s.Append(CultureInfo.InvariantCulture, $"paths     : {controller.Paths.Count}\n");
            foreach (var path in controller.Paths)
            {
                s.Append(CultureInfo.InvariantCulture, $"  {path.EndPoint} cntlid {path.ControllerId} {path.State}\n");
            }
        }

        var namespaces = controller.Namespaces;
        s.Append(CultureInfo.InvariantCulture, $"namespaces: {namespaces.Count}\n");
        s.Append("  nsid  size          lba size  nuse (blocks)     nguid\n");
        foreach (var ns in namespaces)
        {
            var n = ns.Info;
            s.Append(CultureInfo.InvariantCulture, $"  {n.Id,-5} {Units.Bytes(n.SizeBytes),-13} {n.BlockSize,-9} {n.Utilization,-17} {Units.Hex(n.Nguid.Span)}\n");
        }

        s.Append("disconnected (no device stays: run any novastor command with the same -a/-s/-n)\n");
        return s.ToString();
    }
}
