using System.Globalization;
using System.Runtime.InteropServices;

namespace NovaStor.Load;

/// <summary>
/// Context switches (voluntary + involuntary) of this process and of another one (the target) at
/// one moment; two samples around a run give the switches in between (<see cref="Since"/>).
/// </summary>
/// <remarks>
/// This process: getrusage(RUSAGE_SELF), which Linux sums over every thread, exited ones included.
/// The other process has no such total in /proc (its status file counts the main thread only), so
/// each thread's /proc/PID/task/TID/status is read and the difference taken per thread: a thread
/// born in the window counts from zero, one that exited in it is lost (rather than making the
/// total go backwards). Thread-pool threads rarely exit under load, so the loss is small.
/// </remarks>
internal sealed partial class ContextSwitches
{
    private const int RusageSelf = 0;
    private const int RusageLongs = 18; // two timevals, then fourteen longs; ru_nvcsw and ru_nivcsw are the last two

    private readonly long _self;
    private readonly Dictionary<int, long>? _targetThreads;

    private ContextSwitches(long self, Dictionary<int, long>? targetThreads)
    {
        _self = self;
        _targetThreads = targetThreads;
    }

    /// <summary>Now, for this process and (when given and readable) <paramref name="targetPid"/>.</summary>
    public static ContextSwitches Sample(int? targetPid) => new(OfSelf(), targetPid is { } pid ? ThreadsOf(pid) : null);

    /// <summary>Switches since <paramref name="before"/>: this process's, and the target's when both samples could read it.</summary>
    public (long Client, long? Target) Since(ContextSwitches before)
    {
        ArgumentNullException.ThrowIfNull(before);
        long client = _self - before._self;
        if (_targetThreads is null || before._targetThreads is null)
        {
            return (client, null);
        }

        long target = 0;
        foreach (var (thread, switches) in _targetThreads)
        {
            target += switches - before._targetThreads.GetValueOrDefault(thread);
        }

        return (client, target);
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static unsafe partial int Getrusage(int who, long* usage);

    private static unsafe long OfSelf()
    {
        long* usage = stackalloc long[RusageLongs];
        if (Getrusage(RusageSelf, usage) != 0)
        {
            throw new IOException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return usage[RusageLongs - 2] + usage[RusageLongs - 1];
    }

    /// <summary>Each thread's switches, or null when the process cannot be read (gone, or not ours to see).</summary>
    private static Dictionary<int, long>? ThreadsOf(int pid)
    {
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var threads = new Dictionary<int, long>(tasks.Length);
        foreach (string task in tasks)
        {
            try
            {
                threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = SwitchesIn(File.ReadAllLines(Path.Combine(task, "status")));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The thread exited between the listing and the read: it has nothing left to count.
            }
        }

        return threads;
    }

    /// <summary>voluntary_ctxt_switches + nonvoluntary_ctxt_switches of one status file.</summary>
    private static long SwitchesIn(string[] status)
    {
        long total = 0;
        foreach (string line in status)
        {
            if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
            {
                total += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
            }
        }

        return total;
    }
}
