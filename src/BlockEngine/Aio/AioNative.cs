using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine.Aio;

/// <summary>
/// Linux native AIO (<c>io_setup</c>, <c>io_submit</c>, <c>io_getevents</c>, <c>io_destroy</c>)
/// from include/uapi/linux/aio_abi.h. libaio only wraps these system calls, so they go through
/// libc's <c>syscall(2)</c>, as the io_uring ones do (see <see cref="IoUringNative"/> for why the
/// fixed-argument declaration of the variadic <c>syscall</c> is safe on x86-64 and arm64).
/// </summary>
/// <remarks>
/// Unlike io_uring, the numbers differ by architecture: x86-64 kept its own table
/// (arch/x86/entry/syscalls/syscall_64.tbl: 206-209), arm64 uses asm-generic/unistd.h (0-4).
/// Default container seccomp profiles (Docker, containerd) allow all four.
/// </remarks>
internal static unsafe partial class AioNative
{
    private const string LibraryName = "libc";

    // aio_abi.h: IOCB_CMD_*.
    public const ushort IOCB_CMD_PREAD = 0;
    public const ushort IOCB_CMD_PWRITE = 1;
    public const ushort IOCB_CMD_FSYNC = 2;
    public const ushort IOCB_CMD_FDSYNC = 3;

    /// <summary>aio_abi.h: the kernel signals <see cref="IoCb.ResultFd"/> (an eventfd) when the request completes.</summary>
    public const uint IOCB_FLAG_RESFD = 1u << 0;

    /// <summary>linux/fs.h: RWF_DSYNC, per-write O_DSYNC (Linux 4.7; for AIO 4.13).</summary>
    public const int RWF_DSYNC = 0x00000002;

    /// <summary>fs/aio.c: AIO_RING_MAGIC, the first word of a context's ring as mapped in user space.</summary>
    public const uint AioRingMagic = 0xa10a10a1;

    private static readonly (long Setup, long Destroy, long Submit, long GetEvents) Numbers =
        RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? (0, 1, 2, 4) : (206, 207, 209, 208);

    [LibraryImport(LibraryName, EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint arg1, nint arg2, nint arg3, nint arg4, nint arg5);

    /// <summary>io_setup(2): a context for <paramref name="events"/> requests in flight. Returns 0 or errno.</summary>
    public static int Setup(uint events, out nint context)
    {
        nint ctx = 0;
        nint result = Syscall((nint)Numbers.Setup, (nint)events, (nint)(&ctx), 0, 0, 0);
        context = ctx;
        return result < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    /// <summary>io_destroy(2): cancels what it can and waits for the rest. Returns 0 or errno.</summary>
    public static int Destroy(nint context)
        => Syscall((nint)Numbers.Destroy, context, 0, 0, 0, 0) < 0 ? Marshal.GetLastPInvokeError() : 0;

    /// <summary>
    /// io_submit(2) of one request. The kernel copies the iocb during the call, so it may live on the
    /// caller's stack. Returns 0, or errno (EAGAIN: the context is full; nothing was queued).
    /// </summary>
    public static int SubmitOne(nint context, IoCb* iocb)
    {
        IoCb** list = &iocb;
        while (true)
        {
            nint result = Syscall((nint)Numbers.Submit, context, 1, (nint)list, 0, 0);
            if (result == 1)
            {
                return 0;
            }

            int errno = result < 0 ? Marshal.GetLastPInvokeError() : Errno.EAGAIN;
            if (errno != Errno.EINTR)
            {
                return errno;
            }
        }
    }

    /// <summary>io_getevents(2) without waiting (a zero timeout). Returns the number reaped, or -errno.</summary>
    public static int Reap(nint context, IoEvent* events, int max)
    {
        Timespec zero = default;
        nint result = Syscall((nint)Numbers.GetEvents, context, 0, max, (nint)events, (nint)(&zero));
        return result < 0 ? -Marshal.GetLastPInvokeError() : (int)result;
    }

    /// <summary>
    /// True when the context's ring, mapped in user space at the context's address, holds completions
    /// not yet reaped (head != tail): how a reactor polls without a system call, as libaio and fio do.
    /// False when the ring's header is not the one this code knows (then only the syscall is trusted).
    /// </summary>
    public static bool RingHasEvents(nint context)
    {
        var ring = (AioRingHeader*)context;
        return ring->Magic == AioRingMagic && ring->IncompatFeatures == 0
            && Volatile.Read(ref ring->Head) != Volatile.Read(ref ring->Tail);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}

/// <summary>
/// struct iocb (aio_abi.h), 64 bytes, little-endian layout:
/// <code>
///  0  u64 aio_data        returned in io_event.data
///  8  u32 aio_key         (kernel use)
/// 12  i32 aio_rw_flags    RWF_* (RWF_DSYNC)
/// 16  u16 aio_lio_opcode  IOCB_CMD_*
/// 18  i16 aio_reqprio
/// 20  u32 aio_fildes
/// 24  u64 aio_buf
/// 32  u64 aio_nbytes
/// 40  i64 aio_offset
/// 48  u64 aio_reserved2
/// 56  u32 aio_flags       IOCB_FLAG_RESFD
/// 60  u32 aio_resfd       the eventfd signalled on completion
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct IoCb
{
    [FieldOffset(0)] public ulong Data;
    [FieldOffset(12)] public int RwFlags;
    [FieldOffset(16)] public ushort Opcode;
    [FieldOffset(20)] public uint FileDescriptor;
    [FieldOffset(24)] public ulong Buffer;
    [FieldOffset(32)] public ulong Bytes;
    [FieldOffset(40)] public long Offset;
    [FieldOffset(56)] public uint Flags;
    [FieldOffset(60)] public uint ResultFd;
}

/// <summary>
/// struct io_event (aio_abi.h), 32 bytes:
/// <code>
///  0  u64 data   the iocb's aio_data
///  8  u64 obj    the iocb's user address
/// 16  i64 res    bytes transferred, or -errno
/// 24  i64 res2
/// </code>
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 32)]
internal struct IoEvent
{
    public ulong Data;
    public ulong Obj;
    public long Result;
    public long Result2;
}

/// <summary>
/// struct aio_ring (fs/aio.c), the header of the completion ring the kernel maps at the context's
/// address: id, nr, head, tail, magic, compat_features, incompat_features, header_length (8 u32),
/// then the io_events. Read only, and only to peek whether completions wait.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct AioRingHeader
{
    public uint Id;
    public uint Entries;
    public uint Head;
    public uint Tail;
    public uint Magic;
    public uint CompatFeatures;
    public uint IncompatFeatures;
    public uint HeaderLength;
}
