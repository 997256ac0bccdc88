using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace NovaStor.Csi.Node;

/// <summary>What an external command did.</summary>
internal sealed record CommandResult(int ExitCode, string Output, string Error)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The command's own words about a failure, for an error message.</summary>
    public string Describe() => (Error.Trim().Length > 0 ? Error : Output).Trim() is { Length: > 0 } text ? text : $"exit code {ExitCode}";
}

/// <summary>A command that did not finish in time; it was killed with everything it started.</summary>
internal sealed class CommandTimeoutException(string commandLine, TimeSpan timeout)
    : TimeoutException($"'{commandLine}' did not finish within {timeout.TotalSeconds:0} s and was killed");

/// <summary>
/// Runs the node's tools (nvme, mkfs, mount, blkid, resize2fs, ...): every call bounded by a
/// timeout, its process tree killed when it passes, its command line and output logged (secrets
/// masked). A hung tool never wedges the plugin: the call fails with a clear error instead.
/// </summary>
internal sealed partial class ExternalCommands(ILogger<ExternalCommands> logger, TimeSpan timeout)
{
    /// <summary>Options whose value is never logged.</summary>
    private static readonly HashSet<string> SecretOptions = new(StringComparer.Ordinal) { "--dhchap-secret", "--dhchap-ctrl-secret", "-S", "-C" };

    public TimeSpan Timeout => timeout;

    /// <exception cref="CommandTimeoutException">It ran longer than the timeout.</exception>
    /// <exception cref="System.ComponentModel.Win32Exception">The tool is not installed.</exception>
    public async Task<CommandResult> RunAsync(string file, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        string commandLine = Describe(file, arguments);
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"'{commandLine}' could not be started");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Log.TimedOut(logger, commandLine, timeout.TotalSeconds);
            cancellationToken.ThrowIfCancellationRequested();
            throw new CommandTimeoutException(commandLine, timeout);
        }

        var result = new CommandResult(process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
        Log.Ran(logger, commandLine, result.ExitCode, result.Output.Trim(), result.Error.Trim());
        return result;
    }

    /// <summary>The command line as logged: arguments of secret options replaced.</summary>
    public static string Describe(string file, IReadOnlyList<string> arguments)
    {
        var shown = new List<string> { file };
        for (int i = 0; i < arguments.Count; i++)
        {
            string argument = arguments[i];
            int equals = argument.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && SecretOptions.Contains(argument[..equals]))
            {
                shown.Add(argument[..equals] + "=***");
            }
            else
            {
                shown.Add(argument);
                if (SecretOptions.Contains(argument) && i + 1 < arguments.Count)
                {
                    shown.Add("***");
                    i++;
                }
            }
        }

        return string.Join(' ', shown);
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Information, "Ran {Command}: exit {ExitCode}; output: {Output}; errors: {Errors}")]
        public static partial void Ran(ILogger logger, string command, int exitCode, string output, string errors);

        [LoggerMessage(21, LogLevel.Error, "{Command} did not finish within {Seconds} s and was killed")]
        public static partial void TimedOut(ILogger logger, string command, double seconds);
    }
}
