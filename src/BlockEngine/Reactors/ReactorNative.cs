using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine.Reactors;

/// <summary>The libc calls the reactors need beyond <see cref="Native.Libc"/>: eventfd and thread affinity.</summary>
internal static unsafe partial class ReactorNative
{
    private const string LibraryName = "libc";

    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    /// <summary>cpu_set_t is 1024 bits in glibc.</summary>
    public const int CpuSetBytes = 128;

    [LibraryImport(LibraryName, EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventfdRaw(uint initval, int flags);

    /// <summary>The kernel's id of the calling thread (glibc 2.30+).</summary>
    [LibraryImport(LibraryName, EntryPoint = "gettid")]
    public static partial int GetTid();

    [LibraryImport(LibraryName, EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteRaw(int fd, void* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadRaw(int fd, void* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetaffinityRaw(int pid, nuint size, byte* mask);

    [LibraryImport(LibraryName, EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int SchedGetaffinityRaw(int pid, nuint size, byte* mask);

    /// <summary>A close-on-exec eventfd, optionally non-blocking; returns the descriptor or -1 with errno.</summary>
    public static int CreateEventFd(bool nonBlocking, out int errno)
    {
        int fd = EventfdRaw(0, EFD_CLOEXEC | (nonBlocking ? EFD_NONBLOCK : 0));
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd;
    }

    /// <summary>Adds 1 to the eventfd counter. EAGAIN (counter saturated) still means "readable": ignored.</summary>
    public static int SignalEventFd(int fd)
    {
        ulong one = 1;
        while (WriteRaw(fd, &one, sizeof(ulong)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EINTR)
            {
                continue;
            }
            return errno == Errno.EAGAIN ? 0 : errno;
        }
        return 0;
    }

    /// <summary>
    /// Reads (and so resets) the eventfd counter, blocking while it is zero unless the descriptor is
    /// non-blocking. Returns 0 (signalled), or errno (EAGAIN: non-blocking and nothing signalled).
    /// </summary>
    public static int WaitEventFd(int fd)
    {
        ulong value;
        while (ReadRaw(fd, &value, sizeof(ulong)) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }
        return 0;
    }

    /// <summary>
    /// Pins the calling thread to the <paramref name="index"/>-th CPU (modulo their count) of those
    /// the process may run on. Returns 0 or errno; <paramref name="cpu"/> is the CPU chosen.
    /// </summary>
    public static int PinCurrentThread(int index, out int cpu)
    {
        cpu = -1;
        byte* allowed = stackalloc byte[CpuSetBytes];
        new Span<byte>(allowed, CpuSetBytes).Clear();
        if (SchedGetaffinityRaw(0, CpuSetBytes, allowed) != 0)
        {
            return Marshal.GetLastPInvokeError();
        }
        int count = 0;
        for (int bit = 0; bit < CpuSetBytes * 8; bit++)
        {
            if ((allowed[bit >> 3] & (1 << (bit & 7))) != 0)
            {
                count++;
            }
        }
        if (count == 0)
        {
            return Errno.EINVAL;
        }
        int wanted = index % count;
        for (int bit = 0; bit < CpuSetBytes * 8; bit++)
        {
            if ((allowed[bit >> 3] & (1 << (bit & 7))) != 0 && wanted-- == 0)
            {
                cpu = bit;
                break;
            }
        }
        byte* mask = stackalloc byte[CpuSetBytes];
        new Span<byte>(mask, CpuSetBytes).Clear();
        mask[cpu >> 3] = (byte)(1 << (cpu & 7));
        return SchedSetaffinityRaw(0, CpuSetBytes, mask) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }
}
