using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine.Aio;

/// <summary>
/// epoll and non-blocking socket calls for the AIO reactor's streams (sys/epoll.h, sys/socket.h;
/// the constants are the same on x86-64 and arm64). Wrappers return a count, or -errno, and retry EINTR.
/// </summary>
/// <remarks>
/// struct epoll_event is { u32 events; u64 data; }: packed (12 bytes, data at 4) on x86-64, where
/// the kernel declares it <c>__attribute__((packed))</c>, and naturally aligned (16 bytes, data at 8)
/// elsewhere; <see cref="EventStride"/> and <see cref="DataOffset"/> say which.
/// </remarks>
internal static unsafe partial class EpollNative
{
    private const string LibraryName = "libc";

    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 1u << 31;

    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const int EPOLL_CLOEXEC = 0x80000;

    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;

    public static readonly int EventStride = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;
    public static readonly int DataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [LibraryImport(LibraryName, EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int CreateRaw(int flags);

    [LibraryImport(LibraryName, EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int ControlRaw(int epollFd, int operation, int fd, byte* ev);

    [LibraryImport(LibraryName, EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int WaitRaw(int epollFd, byte* events, int maxEvents, int timeoutMilliseconds);

    [LibraryImport(LibraryName, EntryPoint = "recv", SetLastError = true)]
    private static partial nint ReceiveRaw(int fd, void* buffer, nuint length, int flags);

    [LibraryImport(LibraryName, EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMessageRaw(int fd, void* message, int flags);

    /// <summary>epoll_create1(EPOLL_CLOEXEC): the descriptor, or -errno.</summary>
    public static int Create()
    {
        int fd = CreateRaw(EPOLL_CLOEXEC);
        return fd >= 0 ? fd : -Marshal.GetLastPInvokeError();
    }

    /// <summary>epoll_ctl with <paramref name="events"/> and a 64-bit cookie. Returns 0 or errno.</summary>
    public static int Control(int epollFd, int operation, int fd, uint events, ulong data)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + DataOffset) = data;
        return ControlRaw(epollFd, operation, fd, ev) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>epoll_wait into <paramref name="events"/> (<paramref name="max"/> entries of <see cref="EventStride"/>). Returns the count, or -errno.</summary>
    public static int Wait(int epollFd, byte* events, int max, int timeoutMilliseconds)
    {
        while (true)
        {
            int count = WaitRaw(epollFd, events, max, timeoutMilliseconds);
            if (count >= 0)
            {
                return count;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return -errno;
            }
        }
    }

    /// <summary>The events and cookie of the <paramref name="index"/>-th entry filled by <see cref="Wait"/>.</summary>
    public static (uint Events, ulong Data) EventAt(byte* events, int index)
    {
        byte* at = events + (index * EventStride);
        return (*(uint*)at, *(ulong*)(at + DataOffset));
    }

    /// <summary>recv without blocking: bytes received, 0 at end of stream, or -errno (-EAGAIN: nothing yet).</summary>
    public static int Receive(int fd, nint buffer, int length)
    {
        while (true)
        {
            nint result = ReceiveRaw(fd, (void*)buffer, (nuint)length, MSG_DONTWAIT);
            if (result >= 0)
            {
                return (int)result;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return -errno;
            }
        }
    }

    /// <summary>sendmsg without blocking or SIGPIPE: bytes sent, or -errno (-EAGAIN: the socket buffer is full).</summary>
    public static int SendMessage(int fd, nint message)
    {
        while (true)
        {
            nint result = SendMessageRaw(fd, (void*)message, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (result >= 0)
            {
                return (int)result;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return -errno;
            }
        }
    }
}
