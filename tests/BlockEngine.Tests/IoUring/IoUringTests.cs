using NovaStor.BlockEngine.Native;
using Xunit.Abstractions;

namespace NovaStor.BlockEngine.Tests;

/// <summary>
/// The io_uring layer against the running kernel. io_uring being unavailable is a failure here
/// (with the reason), never a skip: the engine's default path depends on it.
/// </summary>
public sealed unsafe class IoUringTests(ITestOutputHelper output)
{
    private const int Block = 4096;

    [Fact]
    public void IoUringIsAvailableAndTheBestSingleIssuerModeIsNegotiated()
    {
        bool supported = IoUring.IsSupported(out string reason);
        output.WriteLine(reason);
        Assert.True(supported, reason);

        using IoUring ring = IoUring.Create(8);
        output.WriteLine($"setup flags {IoUring.FormatSetupFlags(ring.SetupFlags)}, features 0x{ring.Features:x}, SQ {ring.SqEntries}, CQ {ring.CqEntries}");
        Assert.Equal(8u, ring.SqEntries);
        Assert.True(ring.CqEntries >= ring.SqEntries);
        Assert.True((ring.Features & IoUringNative.IORING_FEAT_NODROP) != 0, "NODROP (5.5+)");
        if (Environment.OSVersion.Version >= new Version(6, 1))
        {
            Assert.Equal(IoUringNative.IORING_SETUP_SINGLE_ISSUER | IoUringNative.IORING_SETUP_DEFER_TASKRUN | IoUringNative.IORING_SETUP_TASKRUN_FLAG, ring.SetupFlags);
        }
    }

    [Fact]
    public void NopRoundTripCarriesUserData()
    {
        using IoUring ring = RingTestExtensions.CreateRing(8);
        ring.NextEntry()->PrepareNop(0xDEAD_BEEF_CAFE_F00D);
        IoUringCqe cqe = ring.SubmitAndWaitOne();
        Assert.Equal(0xDEAD_BEEF_CAFE_F00DUL, cqe.UserData);
        Assert.Equal(0, cqe.Result);
        Assert.Equal(0u, ring.CompletionsReady);
        Assert.Equal(0u, ring.DroppedSubmissions);
    }

    /// <summary>
    /// 128-byte entries (SQE128, what ublk's commands need): entries are handed out at a 128-byte
    /// stride, and a URING_CMD's 80-byte command area is the entry's second part. On a file
    /// without driver commands the kernel answers EOPNOTSUPP, which shows it read the opcode where
    /// it was written; NOPs around it complete with their own user data.
    /// </summary>
    [Fact]
    public void EntriesOf128BytesCarryDriverCommandsBetweenOrdinaryRequests()
    {
        using IoUring ring = RingTestExtensions.CreateRing(4, IoUringNative.IORING_SETUP_SQE128);
        Assert.NotEqual(0u, ring.SetupFlags & IoUringNative.IORING_SETUP_SQE128);
        using var file = new DirectTestFile(Block);
        Span<IoUringCqe> cqes = stackalloc IoUringCqe[4];
        for (int round = 0; round < 3; round++)
        {
            ring.NextEntry()->PrepareNop(1);
            var area = ring.NextEntry()->PrepareUringCommand(file.Fd, 0xC0107520u, 2);
            Assert.Equal(IoUringSqe.UringCommandAreaSize, area.Length);
            area.Fill(0xA5);
            ring.NextEntry()->PrepareNop(3);
            Assert.Equal(3, ring.Submit(waitFor: 3));
            int reaped = 0;
            while (reaped < 3)
            {
                reaped += ring.ReapCompletions(cqes[reaped..]);
            }

            var byData = cqes[..3].ToArray().ToDictionary(c => c.UserData, c => c.Result);
            Assert.Equal(0, byData[1]);
            Assert.Equal(-Errno.EOPNOTSUPP, byData[2]);
            Assert.Equal(0, byData[3]);
        }

        Assert.Equal(0u, ring.DroppedSubmissions);
    }

    [Theory]
    [InlineData(0u)] // negotiated: SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG here
    [InlineData(IoUringNative.IORING_SETUP_COOP_TASKRUN)]
    [InlineData(IoUringNative.IORING_SETUP_SQPOLL)]
    [InlineData(IoUringNative.IORING_SETUP_CLAMP | IoUringNative.IORING_SETUP_SUBMIT_ALL)]
    public void EverySetupModeRunsRequests(uint flags)
    {
        using IoUring ring = RingTestExtensions.CreateRing(4, flags);
        output.WriteLine($"asked 0x{flags:x}, accepted {IoUring.FormatSetupFlags(ring.SetupFlags)}");
        Assert.Equal(flags, ring.SetupFlags & flags);
        Span<IoUringCqe> cqes = stackalloc IoUringCqe[8];
        for (ulong round = 0; round < 50; round++)
        {
            ring.NextEntry()->PrepareNop(round * 2);
            ring.NextEntry()->PrepareNop((round * 2) + 1);
            int reaped = 0;
            Assert.Equal(2, ring.Submit(waitFor: 2));
            while (reaped < 2)
            {
                int n = ring.ReapCompletions(cqes[reaped..]);
                if (n == 0)
                {
                    _ = ring.Submit(waitFor: 1);
                }
                reaped += n;
            }
            Assert.Equal(round * 2, Math.Min(cqes[0].UserData, cqes[1].UserData));
            Assert.Equal((round * 2) + 1, Math.Max(cqes[0].UserData, cqes[1].UserData));
        }
    }

    [Fact]
    public void SqpollWithDeferTaskRunIsRefusedWithTheErrnoName()
    {
        var e = Assert.Throws<IoUringException>(() => IoUring.Create(4,
            IoUringNative.IORING_SETUP_SQPOLL | IoUringNative.IORING_SETUP_SINGLE_ISSUER | IoUringNative.IORING_SETUP_DEFER_TASKRUN));
        output.WriteLine(e.Message);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal("EINVAL", e.ErrnoName);
        Assert.Contains("EINVAL", e.Message, StringComparison.Ordinal);
        Assert.False(e.IsUnavailable);
    }

    [Theory]
    [InlineData(Errno.EPERM, "2", "kernel.io_uring_disabled = 2")]
    [InlineData(Errno.EPERM, "1", "io_uring_group")]
    [InlineData(Errno.EPERM, "0", "seccomp")]
    [InlineData(Errno.ENOSYS, null, "seccomp")]
    public void RefusedSetupNamesTheErrnoAndTheLikelyCause(int errno, string? sysctl, string cause)
    {
        IoUringException e = IoUringException.SetupRefused(errno, 0, sysctl);
        Assert.True(e.IsUnavailable);
        Assert.Equal(errno, e.HResult);
        Assert.Contains(IoUringNative.ErrnoName(errno), e.Message, StringComparison.Ordinal);
        Assert.Contains(cause, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FixedWriteThenFixedReadOnADirectFile()
    {
        using var file = new DirectTestFile(1 << 20);
        using var buffer = new AlignedBuffer(16 * Block);
        using IoUring ring = RingTestExtensions.CreateRing(8);
        ring.RegisterBuffers([(buffer.Address, buffer.Length)]);

        const int Length = 8 * Block;
        Span<byte> source = buffer.AsSpan(0, Length);
        for (int i = 0; i < Length; i++)
        {
            source[i] = (byte)((i * 7) + (i >> 12));
        }
        ring.NextEntry()->PrepareWriteFixed(file.Fd, buffer.Address, Length, 3 * Block, 0, 1);
        IoUringCqe written = ring.SubmitAndWaitOne();
        Assert.Equal(1UL, written.UserData);
        Assert.Equal(Length, written.Result);

        ring.NextEntry()->PrepareReadFixed(file.Fd, buffer.AddressAt(Length), Length, 3 * Block, 0, 2);
        IoUringCqe read = ring.SubmitAndWaitOne();
        Assert.Equal(2UL, read.UserData);
        Assert.Equal(Length, read.Result);
        Assert.True(buffer.AsSpan(0, Length).SequenceEqual(buffer.AsSpan(Length, Length)), "READ_FIXED returned other bytes than WRITE_FIXED wrote");

        // The data is in the file, not just in the ring: pread agrees.
        using var check = new AlignedBuffer(Length);
        Assert.Equal(0, Libc.ReadExactly(file.Fd, (byte*)check.Address, Length, 3 * Block));
        Assert.True(check.Span.SequenceEqual(buffer.AsSpan(0, Length)));

        // A FUA write (RWF_DSYNC) through the same path.
        ring.NextEntry()->PrepareWriteFixed(file.Fd, buffer.Address, Block, 0, 0, 3, IoUringNative.RWF_DSYNC);
        Assert.Equal(Block, ring.SubmitAndWaitOne().Result);

        ring.UnregisterBuffers();
    }

    [Fact]
    public void FailuresArriveAsNegativeErrnoInTheirCqe()
    {
        using var file = new DirectTestFile(1 << 20);
        using var buffer = new AlignedBuffer(2 * Block);
        using var unregistered = new AlignedBuffer(Block);
        using IoUring ring = RingTestExtensions.CreateRing(4);
        ring.RegisterBuffers([(buffer.Address, buffer.Length)]);

        // READ_FIXED outside the registered buffer.
        ring.NextEntry()->PrepareReadFixed(file.Fd, unregistered.Address, Block, 0, 0, 77);
        IoUringCqe outside = ring.SubmitAndWaitOne();
        Assert.Equal(77UL, outside.UserData);
        Assert.Equal(-Errno.EFAULT, outside.Result);

        // A registered buffer index that does not exist.
        ring.NextEntry()->PrepareReadFixed(file.Fd, buffer.Address, Block, 0, 9, 78);
        Assert.True(ring.SubmitAndWaitOne().Result < 0);

        // A descriptor that is not open.
        ring.NextEntry()->PrepareRead(-1, buffer.Address, Block, 0, 79);
        IoUringCqe badFd = ring.SubmitAndWaitOne();
        Assert.Equal(79UL, badFd.UserData);
        Assert.Equal(-Errno.EBADF, badFd.Result);
        Assert.Equal(0u, ring.DroppedSubmissions);
    }

    [Fact]
    public void FsyncWithDatasyncAndFullFsyncSucceed()
    {
        using var file = new DirectTestFile(1 << 20);
        using var buffer = new AlignedBuffer(Block);
        buffer.Span.Fill(0x5A);
        using IoUring ring = RingTestExtensions.CreateRing(4);

        ring.NextEntry()->PrepareWrite(file.Fd, buffer.Address, Block, 5 * Block, 10);
        Assert.Equal(Block, ring.SubmitAndWaitOne().Result);
        ring.NextEntry()->PrepareFsync(file.Fd, IoUringNative.IORING_FSYNC_DATASYNC, 11);
        IoUringCqe datasync = ring.SubmitAndWaitOne();
        Assert.Equal(11UL, datasync.UserData);
        Assert.Equal(0, datasync.Result);
        ring.NextEntry()->PrepareFsync(file.Fd, 0, 12);
        Assert.Equal(0, ring.SubmitAndWaitOne().Result);

        buffer.Clear();
        ring.NextEntry()->PrepareRead(file.Fd, buffer.Address, Block, 5 * Block, 13);
        Assert.Equal(Block, ring.SubmitAndWaitOne().Result);
        Assert.True(buffer.Span.IndexOfAnyExcept((byte)0x5A) < 0);
    }

    [Fact]
    public void FallocateZeroRangeAndPunchHoleReadBackZeroesWhileNeighboursStay()
    {
        const long FileSize = 1 << 20;
        using var file = new DirectTestFile(FileSize);
        using var buffer = new AlignedBuffer(16 * Block);
        using IoUring ring = RingTestExtensions.CreateRing(8);
        ring.RegisterBuffers([(buffer.Address, buffer.Length)]);

        buffer.Span.Fill(0xA5);
        ring.NextEntry()->PrepareWriteFixed(file.Fd, buffer.Address, 16 * Block, 0, 0, 1);
        Assert.Equal(16 * Block, ring.SubmitAndWaitOne().Result);

        ring.NextEntry()->PrepareFallocate(file.Fd, Libc.FALLOC_FL_ZERO_RANGE, 4 * Block, 2 * Block, 2);
        IoUringCqe zeroed = ring.SubmitAndWaitOne();
        Assert.Equal(2UL, zeroed.UserData);
        Assert.Equal(0, zeroed.Result);
        ring.NextEntry()->PrepareFallocate(file.Fd, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, 10 * Block, 3 * Block, 3);
        IoUringCqe punched = ring.SubmitAndWaitOne();
        Assert.Equal(3UL, punched.UserData);
        Assert.Equal(0, punched.Result);

        buffer.Span.Fill(0xEE);
        ring.NextEntry()->PrepareReadFixed(file.Fd, buffer.Address, 16 * Block, 0, 0, 4);
        Assert.Equal(16 * Block, ring.SubmitAndWaitOne().Result);
        for (int block = 0; block < 16; block++)
        {
            bool zero = block is (>= 4 and < 6) or (>= 10 and < 13);
            ReadOnlySpan<byte> span = buffer.AsSpan(block * Block, Block);
            Assert.True(span.IndexOfAnyExcept(zero ? (byte)0 : (byte)0xA5) < 0, $"block {block} should be {(zero ? "zeroes" : "0xA5")}");
        }
        Assert.Equal(FileSize, new FileInfo(file.FilePath).Length);
    }

    [Fact]
    public void AFullSubmissionQueueRefusesEntriesUntilSubmitted()
    {
        using IoUring ring = RingTestExtensions.CreateRing(4);
        Assert.Equal(4u, ring.SqEntries);
        for (ulong i = 0; i < 4; i++)
        {
            ring.NextEntry()->PrepareNop(i);
        }
        Assert.Equal(0u, ring.SubmissionSpaceLeft);
        Assert.False(ring.TryGetSubmissionEntry(out IoUringSqe* none));
        Assert.True(none == null);
        Assert.False(ring.TryGetSubmissionEntry(out _)); // still full: nothing was consumed

        Assert.Equal(4, ring.Submit());
        Assert.Equal(4u, ring.SubmissionSpaceLeft);
        ring.NextEntry()->PrepareNop(4);
        Assert.Equal(1, ring.Submit(waitFor: 5));

        Span<IoUringCqe> cqes = stackalloc IoUringCqe[8];
        Assert.Equal(5, ring.ReapCompletions(cqes));
        ulong seen = 0;
        foreach (IoUringCqe cqe in cqes[..5])
        {
            seen |= 1UL << (int)cqe.UserData;
        }
        Assert.Equal(0b11111UL, seen);
    }

    [Fact]
    public void TenThousandRequestsThroughASmallRingCompleteExactlyOnce()
    {
        const int Requests = 10_000;
        using var file = new DirectTestFile(256 * Block);
        using var buffer = new AlignedBuffer(8 * Block);
        using IoUring ring = RingTestExtensions.CreateRing(8);
        ring.RegisterBuffers([(buffer.Address, buffer.Length)]);

        var completions = new int[Requests];
        Span<IoUringCqe> cqes = stackalloc IoUringCqe[16];
        int prepared = 0;
        int completed = 0;
        int inFlight = 0;
        int refusals = 0;
        while (completed < Requests)
        {
            // Aim for the CQ's depth (16) in flight through an SQ of 8: the SQ fills up before every
            // submit, TryGetSubmissionEntry refuses, and the request waits for the next round.
            while (prepared < Requests && inFlight < (int)ring.CqEntries)
            {
                if (!ring.TryGetSubmissionEntry(out IoUringSqe* sqe))
                {
                    refusals++;
                    break;
                }
                ulong userData = (ulong)prepared;
                if (prepared % 3 == 0)
                {
                    sqe->PrepareNop(userData);
                }
                else
                {
                    int slot = prepared % 8;
                    sqe->PrepareReadFixed(file.Fd, buffer.AddressAt(slot * Block), Block, (prepared % 256) * (long)Block, 0, userData);
                }
                prepared++;
                inFlight++;
            }
            _ = ring.Submit(waitFor: 1);
            int n = ring.ReapCompletions(cqes);
            for (int i = 0; i < n; i++)
            {
                int index = (int)cqes[i].UserData;
                Assert.InRange(index, 0, prepared - 1);
                Assert.Equal(index % 3 == 0 ? 0 : Block, cqes[i].Result);
                completions[index]++;
            }
            completed += n;
            inFlight -= n;
        }

        Assert.Equal(Requests, prepared);
        Assert.Equal(0, inFlight);
        Assert.True(Array.TrueForAll(completions, c => c == 1), "a request completed twice or never");
        Assert.Equal(0u, ring.CompletionsReady);
        Assert.Equal(0u, ring.CompletionOverflows);
        Assert.Equal(0u, ring.DroppedSubmissions);
        Assert.True(refusals > 0, "the SQ never filled up");
        output.WriteLine($"{Requests} requests through an {ring.SqEntries}-entry ring, {refusals} full-ring refusals");
    }

    [Fact]
    public void RegisteredFilesAreAddressedByIndexWithFixedFile()
    {
        using var file = new DirectTestFile(1 << 20);
        using var other = new DirectTestFile(1 << 20);
        using var buffer = new AlignedBuffer(2 * Block);
        using IoUring ring = RingTestExtensions.CreateRing(4);
        ring.RegisterBuffers([(buffer.Address, buffer.Length)]);
        ring.RegisterFiles([other.Fd, file.Fd]); // file is index 1

        buffer.AsSpan(0, Block).Fill(0x3C);
        IoUringSqe* write = ring.NextEntry();
        write->PrepareWriteFixed(1, buffer.Address, Block, 7 * Block, 0, 21);
        write->Flags |= IoUringNative.IOSQE_FIXED_FILE;
        Assert.Equal(Block, ring.SubmitAndWaitOne().Result);

        // The ring holds its own reference: the descriptor can go.
        file.Close();

        IoUringSqe* read = ring.NextEntry();
        read->PrepareReadFixed(1, buffer.AddressAt(Block), Block, 7 * Block, 0, 22);
        read->Flags |= IoUringNative.IOSQE_FIXED_FILE;
        IoUringCqe cqe = ring.SubmitAndWaitOne();
        Assert.Equal(22UL, cqe.UserData);
        Assert.Equal(Block, cqe.Result);
        Assert.True(buffer.AsSpan(Block, Block).IndexOfAnyExcept((byte)0x3C) < 0);

        // Index 0 is the other file, untouched.
        IoUringSqe* untouched = ring.NextEntry();
        untouched->PrepareReadFixed(0, buffer.AddressAt(Block), Block, 7 * Block, 0, 23);
        untouched->Flags |= IoUringNative.IOSQE_FIXED_FILE;
        Assert.Equal(Block, ring.SubmitAndWaitOne().Result);
        Assert.True(buffer.AsSpan(Block, Block).IndexOfAnyExcept((byte)0) < 0);

        ring.UnregisterFiles();
        IoUringSqe* stale = ring.NextEntry();
        stale->PrepareNop(24);
        Assert.Equal(0, ring.SubmitAndWaitOne().Result);
    }

    [Fact]
    public void SteadyStateSubmitAndReapAllocateNothing()
    {
        using var file = new DirectTestFile(64 * Block);
        using var buffer = new AlignedBuffer(16 * Block);
        using IoUring ring = RingTestExtensions.CreateRing(16);
        ring.RegisterBuffers([(buffer.Address, buffer.Length)]);

        RunBatches(ring, file.Fd, buffer, 200); // warm up: JIT, tiering, the lazy probe
        long before = GC.GetAllocatedBytesForCurrentThread();
        int requests = RunBatches(ring, file.Fd, buffer, 2000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{allocated} bytes allocated for {requests} requests");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void OnlyTheOwnerThreadSubmitsAndDisposeIsFinal()
    {
        IoUring ring = RingTestExtensions.CreateRing(4);
        Exception? offThread = null;
        var thread = new Thread(() => offThread = Record.Exception(() => ring.Submit()));
        thread.Start();
        thread.Join();
        Assert.IsType<InvalidOperationException>(offThread);

        ring.Dispose();
        ring.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ring.Submit());
        Assert.Throws<ObjectDisposedException>(() => ring.TryGetSubmissionEntry(out _));
        Assert.Throws<ObjectDisposedException>(() => ring.ReapCompletions(new IoUringCqe[1]));
    }

    [Fact]
    public void SetupFlagsFormatAsNames()
    {
        Assert.Equal("none", IoUring.FormatSetupFlags(0));
        Assert.Equal("SINGLE_ISSUER|DEFER_TASKRUN",
            IoUring.FormatSetupFlags(IoUringNative.IORING_SETUP_SINGLE_ISSUER | IoUringNative.IORING_SETUP_DEFER_TASKRUN));
        Assert.Equal("SQPOLL|0x80000000", IoUring.FormatSetupFlags(IoUringNative.IORING_SETUP_SQPOLL | 0x8000_0000));
    }

    /// <summary>Batches of 16: NOPs and 4 KiB READ_FIXED, submitted together and reaped into a stack span.</summary>
    private static int RunBatches(IoUring ring, int fd, AlignedBuffer buffer, int batches)
    {
        Span<IoUringCqe> cqes = stackalloc IoUringCqe[32];
        nint address = buffer.Address;
        int requests = 0;
        for (int b = 0; b < batches; b++)
        {
            for (int i = 0; i < 16; i++)
            {
                if (!ring.TryGetSubmissionEntry(out IoUringSqe* sqe))
                {
                    throw new InvalidOperationException("the ring is full at the start of a batch");
                }
                if ((i & 1) == 0)
                {
                    sqe->PrepareNop((ulong)i);
                }
                else
                {
                    sqe->PrepareReadFixed(fd, address + (i * Block), Block, ((b + i) % 64) * (long)Block, 0, (ulong)i);
                }
            }
            int reaped = 0;
            _ = ring.Submit(waitFor: 16);
            while (reaped < 16)
            {
                int n = ring.ReapCompletions(cqes);
                for (int i = 0; i < n; i++)
                {
                    if (cqes[i].Result < 0)
                    {
                        throw new InvalidOperationException("a request failed");
                    }
                }
                reaped += n;
                if (reaped < 16)
                {
                    _ = ring.Submit(waitFor: (uint)(16 - reaped));
                }
            }
            requests += 16;
        }
        return requests;
    }
}
