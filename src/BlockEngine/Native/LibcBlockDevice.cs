using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine.Native;

/// <summary>
/// The block-device ioctls of include/uapi/linux/fs.h that <see cref="FileVolume"/> needs on a raw
/// device: its size, its logical sector size, zeroing and discarding a byte range.
/// </summary>
/// <remarks>
/// Request numbers are built as the kernel builds them (include/uapi/asm-generic/ioctl.h):
/// <c>_IOC(dir, type, nr, size) = dir &lt;&lt; 30 | size &lt;&lt; 16 | type &lt;&lt; 8 | nr</c> with
/// _IOC_NONE = 0 and _IOC_READ = 2. That is the asm-generic encoding used by x86-64 and arm64;
/// powerpc, mips and sparc encode directions differently and are not targets of this project.
/// The block ioctls use type 0x12. BLKSSZGET, BLKDISCARD and BLKZEROOUT were defined with _IO
/// (no size) even though they take an argument; the kernel keeps those numbers for compatibility.
/// </remarks>
internal static unsafe partial class Libc
{
    private const uint IocNone = 0;
    private const uint IocRead = 2;
    private const uint BlockIoctlType = 0x12;

    /// <summary>BLKSSZGET = _IO(0x12, 104): int* receives the logical block size (0x1268).</summary>
    public static readonly nuint BLKSSZGET = Io(BlockIoctlType, 104);

    /// <summary>BLKDISCARD = _IO(0x12, 119): uint64_t[2] = { start, length } in bytes (0x1277).</summary>
    public static readonly nuint BLKDISCARD = Io(BlockIoctlType, 119);

    /// <summary>BLKZEROOUT = _IO(0x12, 127): uint64_t[2] = { start, length } in bytes (0x127f).</summary>
    public static readonly nuint BLKZEROOUT = Io(BlockIoctlType, 127);

    /// <summary>BLKGETSIZE64 = _IOR(0x12, 114, size_t): uint64_t* receives the size in bytes (0x80081272 on 64-bit).</summary>
    public static readonly nuint BLKGETSIZE64 = Ior(BlockIoctlType, 114, (uint)sizeof(nuint));

    // linux/stat.h
    public const ushort S_IFBLK = 0x6000;

    private static nuint Io(uint type, uint nr) => Ioc(IocNone, type, nr, 0);

    private static nuint Ior(uint type, uint nr, uint size) => Ioc(IocRead, type, nr, size);

    private static nuint Ioc(uint direction, uint type, uint nr, uint size)
        => (nuint)((direction << 30) | (size << 16) | (type << 8) | nr);

    // ioctl(2) is variadic in C (int ioctl(int fd, unsigned long request, ...)); a single pointer
    // argument travels in the same register as a fixed one on the x86-64 and arm64 Linux ABIs.
    [LibraryImport(LibraryName, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int IoctlRaw(int fd, nuint request, void* argument);

    /// <summary>BLKGETSIZE64: the device's size in bytes. Returns 0 or errno.</summary>
    public static int BlockDeviceSize(int fd, out long sizeBytes)
    {
        ulong size = 0;
        int errno = Ioctl(fd, BLKGETSIZE64, &size);
        sizeBytes = (long)size;
        return errno;
    }

    /// <summary>BLKSSZGET: the device's logical block size (512 or 4096 in practice). Returns 0 or errno.</summary>
    public static int BlockDeviceLogicalBlockSize(int fd, out int blockSize)
    {
        int size = 0;
        int errno = Ioctl(fd, BLKSSZGET, &size);
        blockSize = size;
        return errno;
    }

    /// <summary>
    /// BLKZEROOUT: the range reads back as zeroes afterwards (the kernel uses the device's Write
    /// Zeroes, or writes zeroes itself), and the page cache of the range is dropped. Returns 0 or errno.
    /// </summary>
    public static int BlockDeviceZeroOut(int fd, long offset, long length) => RangeIoctl(fd, BLKZEROOUT, offset, length);

    /// <summary>
    /// BLKDISCARD: tells the device the range is unused. What it reads back afterwards is up to the
    /// device (EOPNOTSUPP when it cannot discard at all). Returns 0 or errno.
    /// </summary>
    public static int BlockDeviceDiscard(int fd, long offset, long length) => RangeIoctl(fd, BLKDISCARD, offset, length);

    private static int RangeIoctl(int fd, nuint request, long offset, long length)
    {
        ulong* range = stackalloc ulong[2];
        range[0] = (ulong)offset;
        range[1] = (ulong)length;
        return Ioctl(fd, request, range);
    }

    private static int Ioctl(int fd, nuint request, void* argument)
    {
        while (IoctlRaw(fd, request, argument) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }
        return 0;
    }
}
