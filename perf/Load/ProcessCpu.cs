using System.Diagnostics;
using System.Globalization;

namespace NovaStor.Load;

/// <summary>CPU time of this process and of another one (the target), sampled around a run.</summary>
internal static class ProcessCpu
{
    /// <summary>Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ, 100 on Linux).</summary>
    private const double UserHz = 100;

    public static double CurrentSeconds()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>utime + stime of <paramref name="pid"/> in seconds, or null when it cannot be read.</summary>
    public static double? SecondsOf(int? pid)
    {
        if (pid is null)
        {
            return null;
        }

        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / UserHz;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
