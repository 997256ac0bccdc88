using System.Runtime.InteropServices;

namespace NovaStor.Initiator.Transport;

/// <summary>
/// The few libc calls the Linux queue transport makes on a socket it does not let .NET touch
/// after connecting: non-blocking <c>recv</c> and gathering <c>sendmsg</c>, <c>poll</c> to wait, and an
/// eventfd to be woken. .NET's own sync calls would do, but its first async call on a socket
/// registers the descriptor with the runtime's epoll thread, and from then on every arrival
/// wakes that thread for nothing; these calls never register anything.
/// </summary>
/// <remarks>
/// Every call returns the kernel's result and, on failure, errno (read at once with
/// <see cref="Marshal.GetLastPInvokeError"/>). The layouts below are the LP64 ones (x86-64 and
/// arm64 agree).
/// </remarks>
internal static unsafe partial class LinuxSocketNative
{
    private const string LibraryName = "libc";

    public const int EINTR = 4, EAGAIN = 11, EPIPE = 32, ECONNRESET = 104;
    public const int MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000;
    public const short POLLIN = 0x1, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;
    public const int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;

    /// <summary>Linux's IOV_MAX: the most iovecs one sendmsg takes.</summary>
    public const int MaxIovecs = 1024;

    /// <summary>struct iovec: base pointer, length.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (LP64): name, namelen (padded), iov, iovlen, control, controllen, flags (padded).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct pollfd: fd, requested events, returned events.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport(LibraryName, EntryPoint = "recv", SetLastError = true)]
    private static partial nint RecvRaw(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport(LibraryName, EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendmsgRaw(int fd, MessageHeader* message, int flags);

    [LibraryImport(LibraryName, EntryPoint = "poll", SetLastError = true)]
    private static partial int PollRaw(PollDescriptor* descriptors, nuint count, int timeoutMs);

    [LibraryImport(LibraryName, EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventfdRaw(uint initialValue, int flags);

    [LibraryImport(LibraryName, EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadRaw(int fd, void* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteRaw(int fd, void* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "close", SetLastError = true)]
    private static partial int CloseRaw(int fd);

    /// <summary>Receives what is there without waiting: bytes received, 0 at end of stream, -1 with errno (EAGAIN: nothing yet).</summary>
    public static nint ReceiveNow(int socket, byte* buffer, int length, out int errno)
    {
        nint received = RecvRaw(socket, buffer, (nuint)length, MSG_DONTWAIT);
        errno = received < 0 ? Marshal.GetLastPInvokeError() : 0;
        return received;
    }

    /// <summary>Sends from <paramref name="vectors"/> without waiting and without SIGPIPE: bytes taken, or -1 with errno (EAGAIN: buffer full).</summary>
    public static nint SendNow(int socket, IoVector* vectors, int count, out int errno)
    {
        var message = new MessageHeader { Vectors = vectors, VectorCount = (nuint)count };
        nint sent = SendmsgRaw(socket, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
        errno = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
        return sent;
    }

    /// <summary>Waits for events (-1: no limit); the count of descriptors with events, 0 on timeout, -1 with errno.</summary>
    public static int Poll(PollDescriptor* descriptors, int count, int timeoutMs, out int errno)
    {
        int ready = PollRaw(descriptors, (nuint)count, timeoutMs);
        errno = ready < 0 ? Marshal.GetLastPInvokeError() : 0;
        return ready;
    }

    /// <summary>A non-blocking, close-on-exec eventfd: the descriptor, or -1 with errno.</summary>
    public static int CreateEventFd(out int errno)
    {
        int fd = EventfdRaw(0, EFD_NONBLOCK | EFD_CLOEXEC);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd;
    }

    /// <summary>Adds 1 to the eventfd counter (wakes a poller). A saturated counter (EAGAIN) is readable anyway.</summary>
    public static void Signal(int eventFd)
    {
        ulong one = 1;
        _ = WriteRaw(eventFd, &one, sizeof(ulong));
    }

    /// <summary>Resets the eventfd counter to zero; nothing to read (EAGAIN) is fine.</summary>
    public static void Drain(int eventFd)
    {
        ulong value;
        _ = ReadRaw(eventFd, &value, sizeof(ulong));
    }

    public static void Close(int fd) => _ = CloseRaw(fd);

    /// <summary>errno as the message a person reads ("Connection reset by peer").</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
