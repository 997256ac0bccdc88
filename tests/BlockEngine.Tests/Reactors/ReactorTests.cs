using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine.Tests;

public sealed class ReactorTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ATinyRingParksRequestsAndCompletesEachExactlyOnce()
    {
        const int Requests = 1000;
        using ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { RingEntries = 4 });
        Assert.Equal(4u, reactors[0].RingEntries);
        using var volume = IoUringFileVolume.OpenOrCreate(_directory.File("tiny.img"), 8L << 20, 4096, reactors);
        using var buffers = new AlignedBuffer(Requests * 4096);
        for (int i = 0; i < Requests; i++)
        {
            buffers.AsSpan(i * 4096, 4096).Fill((byte)i);
        }
        var recorder = new ThreadRecordingCompletion(Requests);
        for (int i = 0; i < Requests; i++)
        {
            var request = new BlockRequest(BlockOperation.Write, i * 4096L, 4096, buffers.AddressAt(i * 4096),
                i % 10 == 0 ? BlockFlags.ForceUnitAccess : BlockFlags.None);
            volume.Submit(in request, recorder, (ulong)i);
        }
        await recorder.All.Task.WaitAsync(VolumeTestExtensions.Timeout);
        await Task.Delay(50); // a duplicate would arrive now
        for (int i = 0; i < Requests; i++)
        {
            Assert.Equal(1, recorder.Counts[i]);
            Assert.Equal(0, recorder.Errors[i]);
        }
        byte[] back = await volume.ReadBytesAsync(0, Requests * 4096);
        Assert.True(back.AsSpan().SequenceEqual(buffers.Span), "the data read back differs from what was written");
    }

    [Fact]
    public async Task ManyPostingThreadsOnTinyRingsNeverLoseAWakeup()
    {
        const int Threads = 8;
        const int PerThread = 3000;
        using ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2, RingEntries = 2 });
        using var volume = IoUringFileVolume.OpenOrCreate(_directory.File("stress.img"), 4L << 20, 4096, reactors);
        var workers = new Task[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int thread = t;
            workers[t] = Task.Run(async () =>
            {
                using var buffer = new AlignedBuffer(4096);
                for (int i = 0; i < PerThread; i++)
                {
                    // One at a time: each request waits for a wakeup, so a lost one hangs this lane.
                    var request = (i % 4) switch
                    {
                        0 => new BlockRequest(BlockOperation.Flush, 0, 0),
                        1 => new BlockRequest(BlockOperation.Read, 8L << 20, 4096, buffer.Address), // ERANGE, no I/O
                        _ => new BlockRequest(BlockOperation.Read, (thread * 64L + (i % 64)) * 4096, 4096, buffer.Address),
                    };
                    Assert.Equal(i % 4 == 1 ? Errno.ERANGE : 0, await volume.SubmitAsync(request));
                }
            });
        }
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task CompletionsArriveOnAReactorThread()
    {
        using ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2 });
        using var shm = new TempDirectory(Directory.Exists("/dev/shm") ? "/dev/shm" : null);
        using var volume = IoUringFileVolume.OpenOrCreate(_directory.File("threads.img"), 1L << 20, 4096, reactors);
        var logger = new ListLogger();
        using var tmpfsVolume = IoUringFileVolume.OpenOrCreate(shm.File("threads.img"), 1L << 20, 4096, reactors, logger);
        using var buffer = new AlignedBuffer(4096);
        int[] reactorThreads = [reactors[0].ManagedThreadId, reactors[1].ManagedThreadId];

        BlockRequest[] requests =
        [
            new(BlockOperation.Write, 0, 4096, buffer.Address),
            new(BlockOperation.Read, 0, 4096, buffer.Address),
            new(BlockOperation.Flush, 0, 0),
            new(BlockOperation.WriteZeroes, 0, 4096, 0, BlockFlags.ForceUnitAccess),
            new(BlockOperation.Deallocate, 0, 4096),
            new(BlockOperation.Read, 1L << 20, 4096, buffer.Address), // ERANGE: rejected before any I/O
        ];
        foreach (IoUringFileVolume target in new[] { volume, tmpfsVolume })
        {
            var recorder = new ThreadRecordingCompletion(requests.Length);
            for (int i = 0; i < requests.Length; i++)
            {
                target.Submit(in requests[i], recorder, (ulong)i);
            }
            await recorder.All.Task.WaitAsync(VolumeTestExtensions.Timeout);
            for (int i = 0; i < requests.Length; i++)
            {
                Assert.StartsWith("novastor-reactor-", recorder.ThreadNames[i], StringComparison.Ordinal);
                Assert.Contains(recorder.ThreadIds[i], reactorThreads);
                Assert.Equal(i == requests.Length - 1 ? Errno.ERANGE : 0, recorder.Errors[i]);
            }
        }
        if (shm.FullPath.StartsWith("/dev/shm", StringComparison.Ordinal))
        {
            // tmpfs has no ZERO_RANGE: the request went through the synchronous fallback, yet completed on a reactor.
            Assert.True(logger.Contains("ZERO_RANGE"), "the Write Zeroes fallback was not taken on tmpfs");
        }
    }

    [Fact]
    public async Task DisposingTheVolumeThenThePoolWithRequestsInFlightCompletesThemAll()
    {
        const int Requests = 600;
        var reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { RingEntries = 8 });
        var volume = IoUringFileVolume.OpenOrCreate(_directory.File("dispose.img"), 16L << 20, 4096, reactors);
        using var buffer = new AlignedBuffer(16 * 1024);
        buffer.Span.Fill(0x44);
        var recorder = new ThreadRecordingCompletion(Requests);
        for (int i = 0; i < Requests; i++)
        {
            var request = new BlockRequest(BlockOperation.Write, (i % 1024) * 16L * 1024, buffer.Length, buffer.Address);
            volume.Submit(in request, recorder, (ulong)i);
        }
        volume.Dispose();
        reactors.Dispose();
        Assert.True(recorder.All.Task.IsCompleted, "Dispose returned before every accepted request completed");
        await recorder.All.Task;
        Assert.All(recorder.Errors, e => Assert.Equal(0, e));
        Assert.All(recorder.Counts, c => Assert.Equal(1, c));

        // Volume and pool are gone: a late request still completes (ENODEV), never hangs.
        Assert.Equal(Errno.ENODEV, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
    }

    [Fact]
    public async Task AReadPastATruncatedEndIsResubmittedThenFailsWithEio()
    {
        using ReactorPool reactors = ReactorTestSupport.CreatePool();
        string path = _directory.File("short.img");
        using var volume = IoUringFileVolume.OpenOrCreate(path, 1L << 20, 4096, reactors);
        await volume.WriteBytesAsync(0, Enumerable.Repeat((byte)9, 64 * 1024).ToArray());
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            stream.SetLength(32 * 1024); // behind the volume's back
        }
        using var buffer = new AlignedBuffer(64 * 1024);
        Assert.Equal(Errno.EIO, await volume.ReadAsync(0, buffer));
        Assert.True(buffer.AsSpan(0, 32 * 1024).IndexOfAnyExcept((byte)9) < 0, "the part before the end was not read");
        Assert.Equal(0, await volume.ReadAsync(0, buffer, 32 * 1024));
    }

    [Fact]
    public void AReactorCanBePinnedAndIdlesWithoutBurningACpu()
    {
        Assert.True(IoUringFileVolume.IsSupported(out string reason), reason);
        var logger = new ListLogger();
        using var reactor = new Reactor(0, 8, pinToCpu: true, logger);
        Assert.True(reactor.PinnedCpu >= 0 || logger.Contains("pinning failed"), "neither pinned nor logged");
        Assert.Equal("novastor-reactor-0", reactor.Name);

        // The thread's own CPU time (utime + stime in /proc/self/task/<tid>/stat) barely moves while idle.
        int tid = reactor.OsThreadId;
        Assert.StartsWith("novastor-react", File.ReadAllText($"/proc/self/task/{tid}/comm"), StringComparison.Ordinal);
        long before = ThreadCpu.Ticks(tid);
        Thread.Sleep(500);
        long used = ThreadCpu.Ticks(tid) - before;
        Assert.True(used <= 5, $"an idle reactor used {used} clock ticks in 500 ms");
    }

    internal sealed class ThreadRecordingCompletion(int count) : IBlockCompletion
    {
        public readonly int[] Counts = new int[count];
        public readonly int[] Errors = new int[count];
        public readonly int[] ThreadIds = new int[count];
        public readonly string?[] ThreadNames = new string?[count];
        public readonly TaskCompletionSource All = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _remaining = count;

        public void OnBlockCompleted(ulong userData, int error)
        {
            Errors[userData] = error;
            ThreadIds[userData] = Environment.CurrentManagedThreadId;
            ThreadNames[userData] = Thread.CurrentThread.Name;
            if (Interlocked.Increment(ref Counts[userData]) == 1 && Interlocked.Decrement(ref _remaining) == 0)
            {
                All.SetResult();
            }
        }
    }
}

/// <summary>Steady-state io_uring requests allocate nothing (alone, after a warm-up, best of several rounds).</summary>
[Collection(nameof(AllocationCollection))]
public sealed class ReactorAllocationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(256u)]
    [InlineData(4u)] // constant backpressure: requests parked and resubmitted
    public void IoUringRequestsDoNotAllocate(uint ringEntries)
    {
        using ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2, RingEntries = ringEntries });
        using var volume = IoUringFileVolume.OpenOrCreate(_directory.File("alloc.img"), 16L << 20, 4096, reactors);
        RequestAllocation.AssertNone(volume, RequestAllocation.Mixed);
    }
}
