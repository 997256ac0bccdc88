using System.CommandLine;
using NovaStor.Cli.Commands;

namespace NovaStor.Cli;

/// <summary>
/// The novastor command line, runnable in-process: tests call <see cref="RunAsync(string[], TextWriter, TextWriter, CancellationToken)"/>
/// with their own writers; Program passes the console's and Ctrl-C as the token.
/// </summary>
public static class Cli
{
    public const string Description =
        "novastor: an NVMe/TCP host tool in the spirit of nvme-cli. Every command is connectionless, " +
        "like nvme-cli's fabrics commands: it connects to the target (-a/-s/-n), does its work and " +
        "disconnects cleanly. There is no kernel driver and no /dev/nvmeX device, so nothing stays " +
        "connected between commands. I/O commands name the namespace with -N/--namespace-id and the " +
        "first block with -S/--start-block, because -n is the subsystem NQN and -s the port. " +
        "Exit codes: 0 success, 1 NVMe error status (or an unusable argument), 2 connection failure.";

    /// <summary>Parses <paramref name="args"/> and runs the command, writing to <paramref name="output"/> and <paramref name="error"/>.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default) =>
        RunAsync(args, new CliContext(output, error, IsTerminal: false), cancellationToken);

    internal static Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken)
    {
        var root = Build(context);
        // Ctrl-C is the caller's token (Program wires it), so in-process runs never touch the
        // process's signal handlers.
        var invocation = new InvocationConfiguration { Output = context.Out, Error = context.Error, ProcessTerminationTimeout = null };
        return root.Parse(args).InvokeAsync(invocation, cancellationToken);
    }

    internal static RootCommand Build(CliContext context) => new(Description)
    {
        DiscoverCommand.Create(context),
        ConnectCommand.Create(context),
        IdCtrlCommand.Create(context),
        IdNsCommand.Create(context),
        ReadCommand.Create(context),
        WriteCommand.Create(context),
        FlushCommand.Create(context),
        WriteZeroesCommand.Create(context),
        DsmCommand.Create(context),
        CopyCommand.Create(context),
        CompareCommand.Create(context),
        // A namespace as a local block device (ublk), served until detach.
        AttachCommand.Create(context),
        DetachCommand.Create(context),
        PerfCommand.Create(context),
        CertsCommand.Create(context),
        GenDhchapKeyCommand.Create(context),
        // The target's control plane (gRPC): volumes, subsystems, hosts, listeners, ANA, controllers, stats.
        VolumeCommand.Create(context),
        SubsystemCommand.Create(context),
        HostCommand.Create(context),
        ListenerCommand.Create(context),
        AnaCommand.Create(context),
        ControllerCommand.Create(context),
        StatsCommand.Create(context),
    };
}
