using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine.Native;

/// <summary>lseek(2) with SEEK_DATA / SEEK_HOLE, for allocation queries on sparse files.</summary>
internal static unsafe partial class Libc
{
    // unistd.h (Linux 3.1+; filesystems without their own support treat the whole file as data).
    public const int SEEK_SET = 0;
    public const int SEEK_DATA = 3;
    public const int SEEK_HOLE = 4;

    // off_t is 64 bits on the 64-bit Linux ABIs this project runs on.
    [LibraryImport(LibraryName, EntryPoint = "lseek", SetLastError = true)]
    private static partial long LseekRaw(int fd, long offset, int whence);

    /// <summary>
    /// lseek(2). Returns the resulting offset, or -1 with <paramref name="errno"/> set (ENXIO for
    /// SEEK_DATA at or past the last data, or for any offset at or past the end of file). Moves the
    /// descriptor's file position, which pread/pwrite do not use.
    /// </summary>
    public static long Lseek(int fd, long offset, int whence, out int errno)
    {
        long result = LseekRaw(fd, offset, whence);
        errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
        return result;
    }
}
