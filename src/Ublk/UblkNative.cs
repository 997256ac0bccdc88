using System.Runtime.InteropServices;

namespace NovaStor.Ublk;

/// <summary>The libc calls the ublk server needs beyond the block engine's: a read-only shared mapping (the descriptor array refuses write access; unmapped with the engine's munmap), and kill.</summary>
internal static unsafe partial class UblkNative
{
    private const string LibraryName = "libc";
    private const int ProtRead = 0x1, MapShared = 0x01, MapPopulate = 0x8000;
    private static readonly nint MapFailed = -1;

    [LibraryImport(LibraryName, EntryPoint = "mmap", SetLastError = true)]
    private static partial nint MmapRaw(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(LibraryName, EntryPoint = "kill", SetLastError = true)]
    private static partial int KillRaw(int pid, int signal);

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> at <paramref name="offset"/> read-only and shared; 0 and errno on failure.</summary>
    public static nint MapReadOnly(int fd, nuint length, long offset, out int errno)
    {
        nint address = MmapRaw(0, length, ProtRead, MapShared | MapPopulate, fd, offset);
        errno = address == MapFailed ? Marshal.GetLastPInvokeError() : 0;
        return address == MapFailed ? 0 : address;
    }

    /// <summary>kill(2): 0, or errno.</summary>
    public static int Signal(int pid, int signal) => KillRaw(pid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
