using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine;

/// <summary>struct io_sqring_offsets (40 bytes): where each SQ ring field lives in the mapping.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct IoSqRingOffsets
{
    [FieldOffset(0)] public uint Head;
    [FieldOffset(4)] public uint Tail;
    [FieldOffset(8)] public uint RingMask;
    [FieldOffset(12)] public uint RingEntries;
    [FieldOffset(16)] public uint Flags;
    [FieldOffset(20)] public uint Dropped;
    [FieldOffset(24)] public uint Array;
    [FieldOffset(28)] public uint Resv1;
    [FieldOffset(32)] public ulong UserAddr;
}

/// <summary>struct io_cqring_offsets (40 bytes): where each CQ ring field lives in the mapping.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct IoCqRingOffsets
{
    [FieldOffset(0)] public uint Head;
    [FieldOffset(4)] public uint Tail;
    [FieldOffset(8)] public uint RingMask;
    [FieldOffset(12)] public uint RingEntries;
    [FieldOffset(16)] public uint Overflow;
    [FieldOffset(20)] public uint Cqes;
    [FieldOffset(24)] public uint Flags;
    [FieldOffset(28)] public uint Resv1;
    [FieldOffset(32)] public ulong UserAddr;
}

/// <summary>struct io_uring_params (120 bytes): given to io_uring_setup, filled in by the kernel.</summary>
[StructLayout(LayoutKind.Explicit, Size = 120)]
internal struct IoUringParams
{
    [FieldOffset(0)] public uint SqEntries;
    [FieldOffset(4)] public uint CqEntries;
    [FieldOffset(8)] public uint Flags;
    [FieldOffset(12)] public uint SqThreadCpu;
    [FieldOffset(16)] public uint SqThreadIdle;
    [FieldOffset(20)] public uint Features;
    [FieldOffset(24)] public uint WqFd;
    // resv[3] at 28..39
    [FieldOffset(40)] public IoSqRingOffsets SqOff;
    [FieldOffset(80)] public IoCqRingOffsets CqOff;
}

/// <summary>
/// struct io_uring_sqe (64 bytes), with only the union members this project uses named. The
/// Prepare methods overwrite all 64 bytes, so nothing from an earlier request leaks into the next.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct IoUringSqe
{
    [FieldOffset(0)] public byte Opcode;
    /// <summary>IOSQE_* flags, e.g. <see cref="IoUringNative.IOSQE_FIXED_FILE"/> (then <see cref="Fd"/> is an index).</summary>
    [FieldOffset(1)] public byte Flags;
    [FieldOffset(2)] public ushort IoPrio;
    [FieldOffset(4)] public int Fd;
    /// <summary>off / addr2: the file offset.</summary>
    [FieldOffset(8)] public ulong Offset;
    /// <summary>addr: buffer address (for FALLOCATE: the length).</summary>
    [FieldOffset(16)] public ulong Address;
    /// <summary>len: buffer length (for FALLOCATE: the mode).</summary>
    [FieldOffset(24)] public uint Length;
    /// <summary>The per-opcode flags union: rw_flags (RWF_*), fsync_flags, ...</summary>
    [FieldOffset(28)] public uint OpFlags;
    [FieldOffset(32)] public ulong UserData;
    /// <summary>buf_index: which registered buffer READ_FIXED/WRITE_FIXED use.</summary>
    [FieldOffset(40)] public ushort BufIndex;
    [FieldOffset(42)] public ushort Personality;
    /// <summary>splice_fd_in / file_index.</summary>
    [FieldOffset(44)] public int FileIndex;
    [FieldOffset(48)] public ulong Address3;
    [FieldOffset(56)] public ulong Pad2;

    /// <summary>Bytes of a URING_CMD's command area in a 128-byte entry (sqe->cmd, from offset 48).</summary>
    public const int UringCommandAreaSize = 80;

    /// <summary>
    /// A driver command (IORING_OP_URING_CMD) on <paramref name="fd"/>: <paramref name="commandOp"/>
    /// goes in sqe->cmd_op (offset 8) and the command's own bytes in the 80-byte area at offset 48,
    /// returned zeroed for the caller to fill. Only for rings set up with IORING_SETUP_SQE128: the
    /// whole 128-byte entry is cleared.
    /// </summary>
    public unsafe Span<byte> PrepareUringCommand(int fd, uint commandOp, ulong userData)
    {
        fixed (IoUringSqe* self = &this)
        {
            NativeMemory.Clear(self, 2 * 64);
            self->Opcode = IoUringNative.IORING_OP_URING_CMD;
            self->Fd = fd;
            self->Offset = commandOp; // cmd_op is the low 32 bits of the off union
            self->UserData = userData;
            return new Span<byte>((byte*)self + 48, UringCommandAreaSize);
        }
    }

    /// <summary>A request that does nothing and completes with res 0.</summary>
    public void PrepareNop(ulong userData)
    {
        this = default;
        Opcode = IoUringNative.IORING_OP_NOP;
        UserData = userData;
    }

    /// <summary>
    /// Reads <paramref name="length"/> bytes at <paramref name="offset"/> into registered buffer
    /// <paramref name="bufferIndex"/>; <paramref name="buffer"/> must lie inside that registration.
    /// </summary>
    public void PrepareReadFixed(int fd, nint buffer, uint length, long offset, ushort bufferIndex, ulong userData)
    {
        PrepareReadWrite(IoUringNative.IORING_OP_READ_FIXED, fd, buffer, length, offset, 0, userData);
        BufIndex = bufferIndex;
    }

    /// <summary>
    /// Writes from registered buffer <paramref name="bufferIndex"/>. <paramref name="rwFlags"/> takes
    /// RWF_* bits: <see cref="IoUringNative.RWF_DSYNC"/> for a write that is durable on completion (FUA).
    /// </summary>
    public void PrepareWriteFixed(int fd, nint buffer, uint length, long offset, ushort bufferIndex, ulong userData, int rwFlags = 0)
    {
        PrepareReadWrite(IoUringNative.IORING_OP_WRITE_FIXED, fd, buffer, length, offset, rwFlags, userData);
        BufIndex = bufferIndex;
    }

    /// <summary>Reads into an unregistered buffer (pread semantics).</summary>
    public void PrepareRead(int fd, nint buffer, uint length, long offset, ulong userData)
        => PrepareReadWrite(IoUringNative.IORING_OP_READ, fd, buffer, length, offset, 0, userData);

    /// <summary>Writes from an unregistered buffer (pwritev2 semantics, RWF_* in <paramref name="rwFlags"/>).</summary>
    public void PrepareWrite(int fd, nint buffer, uint length, long offset, ulong userData, int rwFlags = 0)
        => PrepareReadWrite(IoUringNative.IORING_OP_WRITE, fd, buffer, length, offset, rwFlags, userData);

    /// <summary>fsync of the whole file; <see cref="IoUringNative.IORING_FSYNC_DATASYNC"/> makes it fdatasync.</summary>
    public void PrepareFsync(int fd, uint fsyncFlags, ulong userData)
    {
        this = default;
        Opcode = IoUringNative.IORING_OP_FSYNC;
        Fd = fd;
        OpFlags = fsyncFlags;
        UserData = userData;
    }

    /// <summary>
    /// fallocate(fd, <paramref name="mode"/>, offset, length) with FALLOC_FL_* modes (ZERO_RANGE,
    /// PUNCH_HOLE | KEEP_SIZE). The kernel takes the mode in len and the length in addr.
    /// </summary>
    public void PrepareFallocate(int fd, int mode, long offset, long length, ulong userData)
    {
        this = default;
        Opcode = IoUringNative.IORING_OP_FALLOCATE;
        Fd = fd;
        Offset = (ulong)offset;
        Address = (ulong)length;
        Length = (uint)mode;
        UserData = userData;
    }

    /// <summary>
    /// recv(2) of up to <paramref name="length"/> bytes from a socket; the result is the byte count,
    /// 0 at end of stream, or -errno. io_uring waits for data itself (poll armed internally).
    /// </summary>
    public void PrepareReceive(int fd, nint buffer, uint length, int messageFlags, ulong userData)
    {
        this = default;
        Opcode = IoUringNative.IORING_OP_RECV;
        Fd = fd;
        Address = (ulong)buffer;
        Length = length;
        OpFlags = (uint)messageFlags;
        UserData = userData;
    }

    /// <summary>
    /// sendmsg(2) of the struct msghdr at <paramref name="messageHeader"/> (a gather list): the result
    /// is the bytes sent, possibly fewer than the list holds (send the rest next), or -errno.
    /// </summary>
    public void PrepareSendMessage(int fd, nint messageHeader, int messageFlags, ulong userData)
    {
        this = default;
        Opcode = IoUringNative.IORING_OP_SENDMSG;
        Fd = fd;
        Address = (ulong)messageHeader;
        Length = 1;
        OpFlags = (uint)messageFlags;
        UserData = userData;
    }

    private void PrepareReadWrite(byte opcode, int fd, nint buffer, uint length, long offset, int rwFlags, ulong userData)
    {
        this = default;
        Opcode = opcode;
        Fd = fd;
        Offset = (ulong)offset;
        Address = (ulong)buffer;
        Length = length;
        OpFlags = (uint)rwFlags;
        UserData = userData;
    }
}

/// <summary>struct io_uring_cqe (16 bytes): one completion.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal readonly struct IoUringCqe
{
    [FieldOffset(0)] public readonly ulong UserData;
    /// <summary>The result: bytes transferred or 0 on success, a negative errno on failure.</summary>
    [FieldOffset(8)] public readonly int Result;
    [FieldOffset(12)] public readonly uint Flags;

    public IoUringCqe(ulong userData, int result, uint flags)
    {
        UserData = userData;
        Result = result;
        Flags = flags;
    }
}
