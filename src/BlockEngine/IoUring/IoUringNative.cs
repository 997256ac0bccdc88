using System.Runtime.InteropServices;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine;

/// <summary>
/// The io_uring system calls and constants, from include/uapi/linux/io_uring.h (Linux 6.x). No
/// library wraps them for .NET, and liburing's helpers are <c>static inline</c>, so the calls go
/// through libc's <c>syscall(2)</c> and the rings are mapped with <c>mmap(2)</c>.
/// </summary>
/// <remarks>
/// <para>Syscall numbers 425/426/427 are the same on x86-64 and arm64 (asm-generic): io_uring came
/// after the numbering was unified at 424 (pidfd_send_signal). <c>syscall</c> is variadic in C; on
/// the x86-64 System V and Linux arm64 ABIs integer arguments travel in the same registers either
/// way, so declaring fixed <see cref="nint"/> arguments is safe there (as for open(2) in <see cref="Libc"/>).</para>
/// <para>Wrappers return what the kernel returns (a count or descriptor, or -1) and the errno
/// through an out parameter; they retry nothing. <see cref="IoUring"/> decides what is retried.</para>
/// </remarks>
internal static unsafe partial class IoUringNative
{
    private const string LibraryName = "libc";

    // asm-generic/unistd.h and arch/x86/entry/syscalls/syscall_64.tbl: identical numbers.
    public const long SYS_io_uring_setup = 425;
    public const long SYS_io_uring_enter = 426;
    public const long SYS_io_uring_register = 427;

    // io_uring_setup(2) flags: io_uring_params.flags.
    public const uint IORING_SETUP_IOPOLL = 1u << 0;
    public const uint IORING_SETUP_SQPOLL = 1u << 1;
    public const uint IORING_SETUP_SQ_AFF = 1u << 2;
    public const uint IORING_SETUP_CQSIZE = 1u << 3;
    public const uint IORING_SETUP_CLAMP = 1u << 4;
    public const uint IORING_SETUP_ATTACH_WQ = 1u << 5;
    public const uint IORING_SETUP_R_DISABLED = 1u << 6;
    public const uint IORING_SETUP_SUBMIT_ALL = 1u << 7;
    public const uint IORING_SETUP_COOP_TASKRUN = 1u << 8;
    public const uint IORING_SETUP_TASKRUN_FLAG = 1u << 9;
    public const uint IORING_SETUP_SQE128 = 1u << 10;
    public const uint IORING_SETUP_CQE32 = 1u << 11;
    public const uint IORING_SETUP_SINGLE_ISSUER = 1u << 12;
    public const uint IORING_SETUP_DEFER_TASKRUN = 1u << 13;
    public const uint IORING_SETUP_NO_MMAP = 1u << 14;
    public const uint IORING_SETUP_REGISTERED_FD_ONLY = 1u << 15;
    public const uint IORING_SETUP_NO_SQARRAY = 1u << 16;

    // io_uring_enter(2) flags.
    public const uint IORING_ENTER_GETEVENTS = 1u << 0;
    public const uint IORING_ENTER_SQ_WAKEUP = 1u << 1;
    public const uint IORING_ENTER_SQ_WAIT = 1u << 2;
    public const uint IORING_ENTER_EXT_ARG = 1u << 3;

    // io_uring_params.features, filled in by the kernel.
    public const uint IORING_FEAT_SINGLE_MMAP = 1u << 0;
    public const uint IORING_FEAT_NODROP = 1u << 1;
    public const uint IORING_FEAT_SUBMIT_STABLE = 1u << 2;
    public const uint IORING_FEAT_RW_CUR_POS = 1u << 3;
    public const uint IORING_FEAT_CUR_PERSONALITY = 1u << 4;
    public const uint IORING_FEAT_FAST_POLL = 1u << 5;
    public const uint IORING_FEAT_POLL_32BITS = 1u << 6;
    public const uint IORING_FEAT_SQPOLL_NONFIXED = 1u << 7;
    public const uint IORING_FEAT_EXT_ARG = 1u << 8;
    public const uint IORING_FEAT_NATIVE_WORKERS = 1u << 9;

    // The SQ ring's flags word (sq_off.flags), written by the kernel.
    public const uint IORING_SQ_NEED_WAKEUP = 1u << 0;
    public const uint IORING_SQ_CQ_OVERFLOW = 1u << 1;
    public const uint IORING_SQ_TASKRUN = 1u << 2;

    // io_uring_sqe.flags.
    public const byte IOSQE_FIXED_FILE = 1 << 0;
    public const byte IOSQE_IO_DRAIN = 1 << 1;
    public const byte IOSQE_IO_LINK = 1 << 2;
    public const byte IOSQE_IO_HARDLINK = 1 << 3;
    public const byte IOSQE_ASYNC = 1 << 4;

    // enum io_uring_op (only the ones this project issues).
    public const byte IORING_OP_NOP = 0;
    public const byte IORING_OP_FSYNC = 3;
    public const byte IORING_OP_READ_FIXED = 4;
    public const byte IORING_OP_WRITE_FIXED = 5;
    public const byte IORING_OP_FALLOCATE = 17;
    public const byte IORING_OP_READ = 22;
    public const byte IORING_OP_WRITE = 23;
    public const byte IORING_OP_SENDMSG = 9;
    public const byte IORING_OP_RECV = 27;
    /// <summary>A driver-defined command on a file (ublk's control and I/O commands), 6.0+.</summary>
    public const byte IORING_OP_URING_CMD = 46;

    // msg_flags for SENDMSG/RECV (sys/socket.h): no SIGPIPE on a peer that went away.
    public const int MSG_NOSIGNAL = 0x4000;
    // ... and for RECV: complete only once the whole length has arrived (or at end of stream).
    public const int MSG_WAITALL = 0x100;

    // io_uring_sqe.fsync_flags.
    public const uint IORING_FSYNC_DATASYNC = 1u << 0;

    // io_uring_sqe.rw_flags (linux/fs.h RWF_*).
    public const int RWF_HIPRI = 0x1;
    public const int RWF_DSYNC = 0x2;
    public const int RWF_SYNC = 0x4;

    // io_uring_register(2) opcodes.
    public const uint IORING_REGISTER_BUFFERS = 0;
    public const uint IORING_UNREGISTER_BUFFERS = 1;
    public const uint IORING_REGISTER_FILES = 2;
    public const uint IORING_UNREGISTER_FILES = 3;

    // mmap(2) offsets selecting what the ring descriptor maps.
    public const long IORING_OFF_SQ_RING = 0;
    public const long IORING_OFF_CQ_RING = 0x8000000;
    public const long IORING_OFF_SQES = 0x10000000;

    // sys/mman.h (same values on x86-64 and arm64).
    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x01;
    public const int MAP_POPULATE = 0x8000;
    public static readonly nint MAP_FAILED = -1;

    /// <summary>/proc/sys/kernel/io_uring_disabled: 0 allowed, 1 only for io_uring_group (or CAP_SYS_ADMIN), 2 disabled.</summary>
    public const string DisabledSysctlPath = "/proc/sys/kernel/io_uring_disabled";

    [LibraryImport(LibraryName, EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint arg1, nint arg2, nint arg3, nint arg4, nint arg5, nint arg6);

    [LibraryImport(LibraryName, EntryPoint = "mmap", SetLastError = true)]
    private static partial nint MmapRaw(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(LibraryName, EntryPoint = "munmap", SetLastError = true)]
    private static partial int MunmapRaw(nint address, nuint length);

    /// <summary>io_uring_setup(2). Returns the ring descriptor, or -1 with <paramref name="errno"/> set.</summary>
    public static int Setup(uint entries, IoUringParams* parameters, out int errno)
    {
        nint result = Syscall((nint)SYS_io_uring_setup, (nint)entries, (nint)parameters, 0, 0, 0, 0);
        errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
        return (int)result;
    }

    /// <summary>io_uring_enter(2) without a signal mask. Returns the number of SQEs consumed, or -1 with errno.</summary>
    public static int Enter(int ringFd, uint toSubmit, uint minComplete, uint flags, out int errno)
    {
        nint result = Syscall((nint)SYS_io_uring_enter, ringFd, (nint)toSubmit, (nint)minComplete, (nint)flags, 0, 0);
        errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
        return (int)result;
    }

    /// <summary>io_uring_register(2). Returns 0 (or an opcode-specific count), or -1 with errno.</summary>
    public static int Register(int ringFd, uint opcode, void* argument, uint count, out int errno)
    {
        nint result = Syscall((nint)SYS_io_uring_register, ringFd, (nint)opcode, (nint)argument, (nint)count, 0, 0);
        errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
        return (int)result;
    }

    /// <summary>mmap(2) of a ring region, shared and pre-faulted. Returns the address, or <see cref="MAP_FAILED"/> with errno.</summary>
    public static nint MapRing(int ringFd, nuint length, long offset, out int errno)
    {
        nint address = MmapRaw(0, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ringFd, offset);
        errno = address == MAP_FAILED ? Marshal.GetLastPInvokeError() : 0;
        return address;
    }

    /// <summary>munmap(2). Returns 0 or errno.</summary>
    public static int Unmap(nint address, nuint length) => MunmapRaw(address, length) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>The symbolic name of an errno ("EPERM"), or "errno N" for ones this project never expects.</summary>
    public static string ErrnoName(int errno) => errno switch
    {
        Errno.EPERM => "EPERM",
        Errno.ENOENT => "ENOENT",
        Errno.EINTR => "EINTR",
        Errno.EIO => "EIO",
        Errno.ENXIO => "ENXIO",
        Errno.EBADF => "EBADF",
        Errno.EAGAIN => "EAGAIN",
        Errno.ENOMEM => "ENOMEM",
        Errno.EACCES => "EACCES",
        Errno.EFAULT => "EFAULT",
        Errno.EBUSY => "EBUSY",
        Errno.EEXIST => "EEXIST",
        Errno.ENODEV => "ENODEV",
        Errno.EINVAL => "EINVAL",
        Errno.EFBIG => "EFBIG",
        Errno.ENOSPC => "ENOSPC",
        Errno.EROFS => "EROFS",
        Errno.ERANGE => "ERANGE",
        Errno.ENOSYS => "ENOSYS",
        Errno.EOPNOTSUPP => "EOPNOTSUPP",
        Errno.ETIMEDOUT => "ETIMEDOUT",
        Errno.EDQUOT => "EDQUOT",
        _ => $"errno {errno}",
    };

    /// <summary>"EPERM (Operation not permitted)": name and libc text, for messages and logs.</summary>
    public static string DescribeErrno(int errno) => $"{ErrnoName(errno)} ({Errno.Describe(errno)})";
}
