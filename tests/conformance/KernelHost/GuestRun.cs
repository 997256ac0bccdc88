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

    /// <summary>
    /// A scenario that causes a kernel message on purpose (nvme reset logs "resetting controller")
    /// writes this marker and the text to /dev/kmsg just before: the next kernel line containing
    /// the text is then neither a warning nor an error. Any other such line still is.
    /// </summary>
    public const string ExpectMarker = "NOVASTOR-EXPECT-KERNEL: ";

    /// <summary>Kernel messages of the NVMe host that signal trouble (warnings, errors, resets, timeouts).</summary>
    public IReadOnlyList<string> NvmeKernelWarnings => [.. Unexpected(KernelLog)
        .Where(line => NvmeLine().IsMatch(line) && TroubleWord().IsMatch(line))];

    /// <summary>
    /// Kernel lines that mean the host saw a failed command, a timeout or a controller reset:
    /// a scenario fails on them even when its own commands succeeded (mkfs tolerates a failed discard).
    /// </summary>
    public IReadOnlyList<string> KernelIoErrors => [.. Unexpected(KernelLog).Where(line => IoErrorLine().IsMatch(line))];

    /// <summary>The kernel log's lines without the markers and the one line each of them announced.</summary>
    private static IEnumerable<string> Unexpected(string kernelLog)
    {
        var announced = new List<string>();
        foreach (string line in kernelLog.Split('\n').Select(line => line.Trim()))
        {
            int marker = line.IndexOf(ExpectMarker, StringComparison.Ordinal);
            if (marker >= 0)
            {
                announced.Add(line[(marker + ExpectMarker.Length)..].Trim());
                continue;
            }

            int expected = announced.FindIndex(text => text.Length > 0 && line.Contains(text, StringComparison.Ordinal));
            if (expected >= 0)
            {
                announced.RemoveAt(expected);
                continue;
            }

            yield return line;
        }
    }

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
