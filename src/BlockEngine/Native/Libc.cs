using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine.Native;

/// <summary>
/// The few libc calls the file backend needs (Linux, glibc 2.28+ for statx). Raw imports return
/// what libc returns (-1 and errno on failure, errno read with <see cref="Marshal.GetLastPInvokeError"/>);
/// the helpers below them retry EINTR, continue short transfers and return 0 or a positive errno.
/// </summary>
internal static unsafe partial class Libc
{
    private const string LibraryName = "libc";

    // fcntl.h. O_DIRECT and O_DIRECTORY swap values between x86-64 and arm64 (asm-generic).
    public const int O_RDONLY = 0x0;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_CLOEXEC = 0x80000;

    public static readonly int O_DIRECT = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x4000,
        Architecture.Arm64 or Architecture.Arm => 0x10000,
        _ => 0x4000, // asm-generic value (riscv64, loongarch64, s390x...)
    };

    public static readonly int O_DIRECTORY = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.Arm64 or Architecture.Arm => 0x4000,
        _ => 0x10000,
    };

    // linux/falloc.h
    public const int FALLOC_FL_KEEP_SIZE = 0x1;
    public const int FALLOC_FL_PUNCH_HOLE = 0x2;
    public const int FALLOC_FL_ZERO_RANGE = 0x10;

    // linux/fs.h
    public const int RWF_DSYNC = 0x2;

    // fcntl.h / linux/stat.h
    public const int AT_FDCWD = -100;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_MODE = 0x2;
    public const uint STATX_SIZE = 0x200;
    public const uint STATX_BLOCKS = 0x400;
    public const uint STATX_BASIC_STATS = 0x7ff;
    public const uint STATX_DIOALIGN = 0x2000;
    public const ushort S_IFMT = 0xF000;
    public const ushort S_IFREG = 0x8000;

    /// <summary>Largest count given to one pread/pwrite (the kernel caps a call at 0x7ffff000 anyway).</summary>
    private const long MaxChunk = 1L << 30;

    [StructLayout(LayoutKind.Sequential)]
    public struct Iovec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>
    /// struct statx from include/uapi/linux/stat.h (256 bytes). Only the fields used here are
    /// declared, at their offsets in that header.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct StatX
    {
        [FieldOffset(0x00)] public uint Mask;
        [FieldOffset(0x04)] public uint BlockSizeHint;
        [FieldOffset(0x1c)] public ushort Mode;
        [FieldOffset(0x28)] public ulong Size;
        /// <summary>Allocated 512-byte units.</summary>
        [FieldOffset(0x30)] public ulong Blocks;
        [FieldOffset(0x98)] public uint DioMemAlign;
        [FieldOffset(0x9c)] public uint DioOffsetAlign;
    }

    // open(2) is variadic in C; on x86-64 and arm64 Linux the third (mode) argument is passed in
    // the same register either way, so declaring it fixed is safe on these ABIs.
    [LibraryImport(LibraryName, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenRaw(string path, int flags, uint mode);

    [LibraryImport(LibraryName, EntryPoint = "close", SetLastError = true)]
    private static partial int CloseRaw(int fd);

    [LibraryImport(LibraryName, EntryPoint = "pread", SetLastError = true)]
    private static partial nint PreadRaw(int fd, void* buffer, nuint count, long offset);

    [LibraryImport(LibraryName, EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint PwriteRaw(int fd, void* buffer, nuint count, long offset);

    [LibraryImport(LibraryName, EntryPoint = "pwritev2", SetLastError = true)]
    private static partial nint Pwritev2Raw(int fd, Iovec* iov, int iovcnt, long offset, int flags);

    [LibraryImport(LibraryName, EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FdatasyncRaw(int fd);

    [LibraryImport(LibraryName, EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncRaw(int fd);

    [LibraryImport(LibraryName, EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FallocateRaw(int fd, int mode, long offset, long length);

    [LibraryImport(LibraryName, EntryPoint = "madvise", SetLastError = true)]
    private static partial int MadviseRaw(void* address, nuint length, int advice);

    /// <summary>madvise(2) advice: back the range with transparent huge pages where possible.</summary>
    public const int MADV_HUGEPAGE = 14;

    /// <summary>madvise(2); returns 0 or errno (a refusal is only a lost optimization).</summary>
    public static int Madvise(void* address, nuint length, int advice) =>
        MadviseRaw(address, length, advice) == 0 ? 0 : Marshal.GetLastPInvokeError();

    [LibraryImport(LibraryName, EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int FtruncateRaw(int fd, long length);

    [LibraryImport(LibraryName, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxRaw(int dirfd, string path, int flags, uint mask, StatX* result);

    [LibraryImport(LibraryName, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkRaw(string path);

    /// <summary>open(2), retrying EINTR. Returns the descriptor, or -1 with <paramref name="errno"/> set.</summary>
    public static int Open(string path, int flags, uint mode, out int errno)
    {
        while (true)
        {
            int fd = OpenRaw(path, flags, mode);
            if (fd >= 0)
            {
                errno = 0;
                return fd;
            }
            errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return -1;
            }
        }
    }

    /// <summary>close(2). Not retried on EINTR: on Linux the descriptor is released regardless.</summary>
    public static int Close(int fd) => CloseRaw(fd) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Reads exactly <paramref name="count"/> bytes at <paramref name="offset"/>; end of file before that is EIO.</summary>
    public static int ReadExactly(int fd, byte* buffer, long count, long offset)
    {
        while (count > 0)
        {
            nint n = PreadRaw(fd, buffer, (nuint)Math.Min(count, MaxChunk), offset);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }
                return errno;
            }
            if (n == 0)
            {
                return Errno.EIO; // the file is shorter than the volume: truncated behind our back
            }
            buffer += n;
            offset += n;
            count -= n;
        }
        return 0;
    }

    /// <summary>Writes exactly <paramref name="count"/> bytes at <paramref name="offset"/>.</summary>
    public static int WriteExactly(int fd, byte* buffer, long count, long offset)
    {
        while (count > 0)
        {
            nint n = PwriteRaw(fd, buffer, (nuint)Math.Min(count, MaxChunk), offset);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }
                return errno;
            }
            if (n == 0)
            {
                return Errno.EIO; // no progress and no error: do not spin
            }
            buffer += n;
            offset += n;
            count -= n;
        }
        return 0;
    }

    /// <summary>
    /// Writes exactly <paramref name="count"/> bytes with pwritev2(RWF_DSYNC): each call returns only
    /// once its data (and the metadata needed to read it) is on stable storage.
    /// </summary>
    public static int WriteExactlyDsync(int fd, byte* buffer, long count, long offset)
    {
        Iovec iov;
        while (count > 0)
        {
            iov.Base = buffer;
            iov.Length = (nuint)Math.Min(count, MaxChunk);
            nint n = Pwritev2Raw(fd, &iov, 1, offset, RWF_DSYNC);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }
                return errno;
            }
            if (n == 0)
            {
                return Errno.EIO;
            }
            buffer += n;
            offset += n;
            count -= n;
        }
        return 0;
    }

    public static int Fdatasync(int fd)
    {
        while (FdatasyncRaw(fd) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }
        return 0;
    }

    public static int Fsync(int fd)
    {
        while (FsyncRaw(fd) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }
        return 0;
    }

    public static int Fallocate(int fd, int mode, long offset, long length)
    {
        while (FallocateRaw(fd, mode, offset, length) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }
        return 0;
    }

    public static int Ftruncate(int fd, long length)
    {
        while (FtruncateRaw(fd, length) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }
        return 0;
    }

    /// <summary>statx(2) of an open descriptor. Returns 0 or errno (ENOSYS when libc lacks statx).</summary>
    public static int Statx(int fd, uint mask, out StatX result)
    {
        StatX buffer = default;
        int errno = StatxCore(fd, string.Empty, AT_EMPTY_PATH, mask, &buffer);
        result = buffer;
        return errno;
    }

    /// <summary>statx(2) of a path (relative paths from the working directory).</summary>
    public static int Statx(string path, uint mask, out StatX result)
    {
        StatX buffer = default;
        int errno = StatxCore(AT_FDCWD, path, 0, mask, &buffer);
        result = buffer;
        return errno;
    }

    private static int StatxCore(int dirfd, string path, int flags, uint mask, StatX* buffer)
    {
        try
        {
            while (StatxRaw(dirfd, path, flags, mask, buffer) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Errno.EINTR)
                {
                    return errno;
                }
            }
            return 0;
        }
        catch (EntryPointNotFoundException)
        {
            return Errno.ENOSYS; // a libc older than glibc 2.28 or a musl without statx
        }
    }

    public static int Unlink(string path) => UnlinkRaw(path) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Bytes allocated on disk to the file at <paramref name="path"/> (st_blocks * 512), or -1.</summary>
    public static long GetAllocatedBytes(string path)
        => Statx(path, STATX_BLOCKS, out StatX st) == 0 && (st.Mask & STATX_BLOCKS) != 0 ? (long)st.Blocks * 512 : -1;

    public static string Describe(int errno) => $"{Errno.Describe(errno)} (errno {errno})";
}
