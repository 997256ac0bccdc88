using NovaStor.Cli;

// The first Ctrl-C or SIGTERM asks the running command to stop (perf still prints its report,
// attach detaches its device); a second one ends the process the usual way.
using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (!interrupt.IsCancellationRequested)
    {
        e.Cancel = true;
        interrupt.Cancel();
    }
};
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, signal =>
{
    if (!interrupt.IsCancellationRequested)
    {
        signal.Cancel = true;
        interrupt.Cancel();
    }
});

var context = new CliContext(Console.Out, Console.Error, IsTerminal: !Console.IsOutputRedirected);
return await Cli.RunAsync(args, context, interrupt.Token).ConfigureAwait(false);
