using System.Runtime.InteropServices;

namespace NovaStor.EngineVsFio;

/// <summary>
/// The process's CPU time and context switches (getrusage RUSAGE_SELF), so the engine's cost per
/// I/O can be set against fio's own usr_cpu/sys_cpu and ctx: a ratio below 1 with the CPU spent
/// per I/O far above fio's points at the engine's path, not at the disk.
/// </summary>
internal readonly partial record struct ProcessUsage(TimeSpan UserTime, TimeSpan SystemTime, long VoluntarySwitches, long InvoluntarySwitches)
{
    private const int RusageSelf = 0;
    private const int RusageBytes = 144; // two timevals, then fourteen longs

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static unsafe partial int GetrusageRaw(int who, long* usage);

    public TimeSpan CpuTime => UserTime + SystemTime;

    public long ContextSwitches => VoluntarySwitches + InvoluntarySwitches;

    public static unsafe ProcessUsage Now()
    {
        long* usage = stackalloc long[RusageBytes / sizeof(long)];
        if (GetrusageRaw(RusageSelf, usage) != 0)
        {
            throw new IOException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        }
        // ru_utime and ru_stime are {seconds, microseconds}; ru_nvcsw and ru_nivcsw are the last two longs.
        return new ProcessUsage(
            TimeSpan.FromSeconds(usage[0]) + TimeSpan.FromMicroseconds(usage[1]),
            TimeSpan.FromSeconds(usage[2]) + TimeSpan.FromMicroseconds(usage[3]),
            usage[16],
            usage[17]);
    }

    public static ProcessUsage operator -(ProcessUsage after, ProcessUsage before) => new(
        after.UserTime - before.UserTime,
        after.SystemTime - before.SystemTime,
        after.VoluntarySwitches - before.VoluntarySwitches,
        after.InvoluntarySwitches - before.InvoluntarySwitches);
}
