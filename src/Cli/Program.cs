using NovaStor.Cli;

// The first Ctrl-C asks the running command to stop (perf still prints its report); a second
// one ends the process the usual way.
using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (!interrupt.IsCancellationRequested)
    {
        e.Cancel = true;
        interrupt.Cancel();
    }
};

var context = new CliContext(Console.Out, Console.Error, IsTerminal: !Console.IsOutputRedirected);
return await Cli.RunAsync(args, context, interrupt.Token).ConfigureAwait(false);
