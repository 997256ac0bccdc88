using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine.Tests;

/// <summary>Pins every struct size, field offset and constant against include/uapi/linux/io_uring.h.</summary>
public sealed class IoUringLayoutTests
{
    [Fact]
    public void SubmissionEntryIs64BytesWithTheHeaderOffsets()
    {
        Assert.Equal(64, Unsafe.SizeOf<IoUringSqe>());
        Assert.Equal(64, Marshal.SizeOf<IoUringSqe>());
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.Opcode), 0);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.Flags), 1);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.IoPrio), 2);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.Fd), 4);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.Offset), 8);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.Address), 16);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.Length), 24);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.OpFlags), 28);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.UserData), 32);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.BufIndex), 40);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.Personality), 42);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.FileIndex), 44);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.Address3), 48);
        AssertOffset<IoUringSqe>(nameof(IoUringSqe.Pad2), 56);
    }

    [Fact]
    public void CompletionEntryIs16BytesWithTheHeaderOffsets()
    {
        Assert.Equal(16, Unsafe.SizeOf<IoUringCqe>());
        Assert.Equal(16, Marshal.SizeOf<IoUringCqe>());
        AssertOffset<IoUringCqe>(nameof(IoUringCqe.UserData), 0);
        AssertOffset<IoUringCqe>(nameof(IoUringCqe.Result), 8);
        AssertOffset<IoUringCqe>(nameof(IoUringCqe.Flags), 12);
    }

    [Fact]
    public void ParamsAre120BytesWithBothOffsetBlocks()
    {
        Assert.Equal(120, Marshal.SizeOf<IoUringParams>());
        Assert.Equal(120, Unsafe.SizeOf<IoUringParams>());
        AssertOffset<IoUringParams>(nameof(IoUringParams.SqEntries), 0);
        AssertOffset<IoUringParams>(nameof(IoUringParams.CqEntries), 4);
        AssertOffset<IoUringParams>(nameof(IoUringParams.Flags), 8);
        AssertOffset<IoUringParams>(nameof(IoUringParams.SqThreadCpu), 12);
        AssertOffset<IoUringParams>(nameof(IoUringParams.SqThreadIdle), 16);
        AssertOffset<IoUringParams>(nameof(IoUringParams.Features), 20);
        AssertOffset<IoUringParams>(nameof(IoUringParams.WqFd), 24);
        AssertOffset<IoUringParams>(nameof(IoUringParams.SqOff), 40);
        AssertOffset<IoUringParams>(nameof(IoUringParams.CqOff), 80);

        Assert.Equal(40, Marshal.SizeOf<IoSqRingOffsets>());
        AssertOffset<IoSqRingOffsets>(nameof(IoSqRingOffsets.Head), 0);
        AssertOffset<IoSqRingOffsets>(nameof(IoSqRingOffsets.Tail), 4);
        AssertOffset<IoSqRingOffsets>(nameof(IoSqRingOffsets.RingMask), 8);
        AssertOffset<IoSqRingOffsets>(nameof(IoSqRingOffsets.RingEntries), 12);
        AssertOffset<IoSqRingOffsets>(nameof(IoSqRingOffsets.Flags), 16);
        AssertOffset<IoSqRingOffsets>(nameof(IoSqRingOffsets.Dropped), 20);
        AssertOffset<IoSqRingOffsets>(nameof(IoSqRingOffsets.Array), 24);
        AssertOffset<IoSqRingOffsets>(nameof(IoSqRingOffsets.Resv1), 28);
        AssertOffset<IoSqRingOffsets>(nameof(IoSqRingOffsets.UserAddr), 32);

        Assert.Equal(40, Marshal.SizeOf<IoCqRingOffsets>());
        AssertOffset<IoCqRingOffsets>(nameof(IoCqRingOffsets.Head), 0);
        AssertOffset<IoCqRingOffsets>(nameof(IoCqRingOffsets.Tail), 4);
        AssertOffset<IoCqRingOffsets>(nameof(IoCqRingOffsets.RingMask), 8);
        AssertOffset<IoCqRingOffsets>(nameof(IoCqRingOffsets.RingEntries), 12);
        AssertOffset<IoCqRingOffsets>(nameof(IoCqRingOffsets.Overflow), 16);
        AssertOffset<IoCqRingOffsets>(nameof(IoCqRingOffsets.Cqes), 20);
        AssertOffset<IoCqRingOffsets>(nameof(IoCqRingOffsets.Flags), 24);
        AssertOffset<IoCqRingOffsets>(nameof(IoCqRingOffsets.Resv1), 28);
        AssertOffset<IoCqRingOffsets>(nameof(IoCqRingOffsets.UserAddr), 32);
    }

    [Fact]
    public void ConstantsMatchTheHeader()
    {
        // Syscall numbers: asm-generic (arm64) and x86-64 agree.
        Assert.Equal(425, IoUringNative.SYS_io_uring_setup);
        Assert.Equal(426, IoUringNative.SYS_io_uring_enter);
        Assert.Equal(427, IoUringNative.SYS_io_uring_register);

        Assert.Equal(0x2u, IoUringNative.IORING_SETUP_SQPOLL);
        Assert.Equal(0x10u, IoUringNative.IORING_SETUP_CLAMP);
        Assert.Equal(0x80u, IoUringNative.IORING_SETUP_SUBMIT_ALL);
        Assert.Equal(0x100u, IoUringNative.IORING_SETUP_COOP_TASKRUN);
        Assert.Equal(0x1000u, IoUringNative.IORING_SETUP_SINGLE_ISSUER);
        Assert.Equal(0x2000u, IoUringNative.IORING_SETUP_DEFER_TASKRUN);

        Assert.Equal(1u, IoUringNative.IORING_ENTER_GETEVENTS);
        Assert.Equal(2u, IoUringNative.IORING_ENTER_SQ_WAKEUP);
        Assert.Equal(1u, IoUringNative.IORING_FEAT_SINGLE_MMAP);
        Assert.Equal(2u, IoUringNative.IORING_FEAT_NODROP);
        Assert.Equal(1u, IoUringNative.IORING_SQ_NEED_WAKEUP);

        Assert.Equal(0, IoUringNative.IORING_OP_NOP);
        Assert.Equal(3, IoUringNative.IORING_OP_FSYNC);
        Assert.Equal(4, IoUringNative.IORING_OP_READ_FIXED);
        Assert.Equal(5, IoUringNative.IORING_OP_WRITE_FIXED);
        Assert.Equal(17, IoUringNative.IORING_OP_FALLOCATE);
        Assert.Equal(22, IoUringNative.IORING_OP_READ);
        Assert.Equal(23, IoUringNative.IORING_OP_WRITE);
        Assert.Equal(1u, IoUringNative.IORING_FSYNC_DATASYNC);
        Assert.Equal(2, IoUringNative.RWF_DSYNC);
        Assert.Equal(1, IoUringNative.IOSQE_FIXED_FILE);

        Assert.Equal(0u, IoUringNative.IORING_REGISTER_BUFFERS);
        Assert.Equal(1u, IoUringNative.IORING_UNREGISTER_BUFFERS);
        Assert.Equal(2u, IoUringNative.IORING_REGISTER_FILES);
        Assert.Equal(3u, IoUringNative.IORING_UNREGISTER_FILES);

        Assert.Equal(0L, IoUringNative.IORING_OFF_SQ_RING);
        Assert.Equal(0x8000000L, IoUringNative.IORING_OFF_CQ_RING);
        Assert.Equal(0x10000000L, IoUringNative.IORING_OFF_SQES);
    }

    [Fact]
    public unsafe void PrepareFallocatePutsModeInLenAndLengthInAddr()
    {
        IoUringSqe sqe = default;
        sqe.Pad2 = ulong.MaxValue; // Prepare must clear leftovers from the slot's previous request
        sqe.PrepareFallocate(7, 0x3, 4096, 8192, 99);
        Assert.Equal(IoUringNative.IORING_OP_FALLOCATE, sqe.Opcode);
        Assert.Equal(7, sqe.Fd);
        Assert.Equal(4096UL, sqe.Offset);
        Assert.Equal(8192UL, sqe.Address);
        Assert.Equal(3u, sqe.Length);
        Assert.Equal(99UL, sqe.UserData);
        Assert.Equal(0UL, sqe.Pad2);

        sqe.PrepareWriteFixed(3, 0x1000, 512, 1024, 5, 11, IoUringNative.RWF_DSYNC);
        Assert.Equal(IoUringNative.IORING_OP_WRITE_FIXED, sqe.Opcode);
        Assert.Equal((ushort)5, sqe.BufIndex);
        Assert.Equal((uint)IoUringNative.RWF_DSYNC, sqe.OpFlags);
        Assert.Equal(0x1000UL, sqe.Address);
        Assert.Equal(512u, sqe.Length);
        Assert.Equal(1024UL, sqe.Offset);
    }

    private static void AssertOffset<T>(string field, int expected)
        => Assert.True(expected == (int)Marshal.OffsetOf<T>(field), $"{typeof(T).Name}.{field} is at {Marshal.OffsetOf<T>(field)}, the header says {expected}");
}
