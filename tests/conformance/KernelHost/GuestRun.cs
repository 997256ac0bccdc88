using System.Text;
using System.Text.RegularExpressions;

namespace NovaStor.Conformance.KernelHost;

/// <summary>What one guest boot printed: the console, the scenario's exit code, the kernel log.</summary>
public sealed partial class GuestRun(int exitCode, bool timedOut, string console)
{
    public int ExitCode { get; } = exitCode;
    public bool TimedOut { get; } = timedOut;
    public string Console { get; } = console;

    /// <summary>The guest's dmesg, dumped after the scenario.</summary>
    public string KernelLog
    {
        get
        {
            int begin = Console.IndexOf("NOVASTOR-DMESG-BEGIN", StringComparison.Ordinal);
            int end = Console.IndexOf("NOVASTOR-DMESG-END", StringComparison.Ordinal);
            return begin >= 0 && end > begin ? Console[(begin + "NOVASTOR-DMESG-BEGIN".Length)..end] : "";
        }
    }

    /// <summary>Kernel messages of the NVMe host that signal trouble (warnings, errors, resets, timeouts).</summary>
    public IReadOnlyList<string> NvmeKernelWarnings => [.. KernelLog.Split('\n')
        .Select(line => line.Trim())
        .Where(line => NvmeLine().IsMatch(line) && TroubleWord().IsMatch(line))];

    /// <summary>
    /// Kernel lines that mean the host saw a failed command, a timeout or a controller reset:
    /// a scenario fails on them even when its own commands succeeded (mkfs tolerates a failed discard).
    /// </summary>
    public IReadOnlyList<string> KernelIoErrors => [.. KernelLog.Split('\n')
        .Select(line => line.Trim())
        .Where(line => IoErrorLine().IsMatch(line))];

    /// <summary>The console for an assertion message: the scenario's own output, then the kernel lines about NVMe.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.AppendLine($"guest exit code {ExitCode}{(TimedOut ? " (timed out)" : "")}; console:");
        text.AppendLine(Console.Length > 60_000 ? Console[^60_000..] : Console);
        return text.ToString();
    }

    [GeneratedRegex(@"I/O error|I/O Cmd.*Error|timeout|resetting controller|EXT4-fs error|blk_update_request", RegexOptions.IgnoreCase)]
    private static partial Regex IoErrorLine();

    [GeneratedRegex(@"nvme|nvmet|blk_update_request|I/O error|EXT4-fs error", RegexOptions.IgnoreCase)]
    private static partial Regex NvmeLine();

    [GeneratedRegex(@"warn|error|fail|timeout|reset|reconnect|abort|invalid|unsupported|WARNING|BUG", RegexOptions.IgnoreCase)]
    private static partial Regex TroubleWord();
}
