using System.Net.Sockets;
using NovaStor.Initiator;

namespace NovaStor.Cli;

/// <summary>
/// Turns the failures a command expects into one line on standard error and an exit code
/// (ExitCodes); anything else is a bug and keeps System.CommandLine's default report.
/// </summary>
internal static class Failures
{
    public static async Task<int> GuardAsync(CliContext context, string command, Func<Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (NvmeCommandException ex)
        {
            await context.Error.WriteLineAsync($"{command}: NVMe status: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.NvmeStatus;
        }
        catch (NvmeAuthenticationException ex)
        {
            // The controller's answer: it refused the host (or could not prove itself); retrying will not help.
            await context.Error.WriteLineAsync($"{command}: authentication failed: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.NvmeStatus;
        }
        catch (CliUsageException ex)
        {
            await context.Error.WriteLineAsync($"{command}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.NvmeStatus;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await context.Error.WriteLineAsync($"{command}: interrupted").ConfigureAwait(false);
            return ExitCodes.Interrupted;
        }
        catch (Exception ex) when (IsTransport(ex))
        {
            await context.Error.WriteLineAsync($"{command}: {Describe(ex)}").ConfigureAwait(false);
            return ExitCodes.Transport;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The local data file, not the target: the command's argument was unusable.
            await context.Error.WriteLineAsync($"{command}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.NvmeStatus;
        }
    }

    /// <summary>Connection-level failures: no NVMe status to report, the transport itself failed.</summary>
    public static bool IsTransport(Exception ex) => ex is NvmeTransportException or ControllerLostException or SocketException or TimeoutException or OperationCanceledException or IOException { InnerException: SocketException };

    public static string Describe(Exception ex) => ex switch
    {
        OperationCanceledException => "timed out",
        SocketException socket => socket.Message,
        _ => ex.Message,
    };
}
