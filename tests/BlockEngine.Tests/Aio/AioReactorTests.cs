using NovaStor.BlockEngine.Aio;
using static NovaStor.BlockEngine.Tests.ReactorTests;

namespace NovaStor.BlockEngine.Tests;

public sealed class AioReactorTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private AioFileVolume Open(string name, long size, int blockSize, AioReactorPool reactors)
        => AioFileVolume.Create(FileVolume.OpenOrCreate(_directory.File(name), size, blockSize), reactors);

    [Fact]
    public void NativeAioIsAvailableOnThisMachine()
    {
        // The container fallback depends on it; CI machines must have it (a missing one is a failure).
        Assert.True(AioReactor.IsSupported(out string reason), reason);
    }

    [Fact]
    public async Task ATinyContextMakesRequestsWaitAndCompletesEachExactlyOnce()
    {
        const int Requests = 1000;
        using var reactors = new AioReactorPool(count: 1, capacity: 2);
        using var volume = Open("tiny.img", 8L << 20, 4096, reactors);
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
        Assert.All(recorder.Counts, c => Assert.Equal(1, c));
        Assert.All(recorder.Errors, e => Assert.Equal(0, e));
        byte[] back = await volume.ReadBytesAsync(0, Requests * 4096);
        Assert.True(back.AsSpan().SequenceEqual(buffers.Span), "the data read back differs from what was written");
    }

    [Fact]
    public async Task ManySubmittingThreadsNeverLoseAWakeup()
    {
        const int Threads = 8;
        const int PerThread = 2000;
        using var reactors = new AioReactorPool(count: 2, capacity: 4);
        using var volume = Open("stress.img", 4L << 20, 4096, reactors);
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
                    var request = (i % 5) switch
                    {
                        0 => new BlockRequest(BlockOperation.Flush, 0, 0),
                        1 => new BlockRequest(BlockOperation.Read, 4L << 20, 4096, buffer.Address), // ERANGE, no I/O
                        2 => new BlockRequest(BlockOperation.WriteZeroes, (thread * 64L + (i % 64)) * 4096, 4096),
                        _ => new BlockRequest(BlockOperation.Read, (thread * 64L + (i % 64)) * 4096, 4096, buffer.Address),
                    };
                    Assert.Equal(i % 5 == 1 ? Errno.ERANGE : 0, await volume.SubmitAsync(request));
                }
            });
        }
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task CompletionsArriveOnTheLanesReactorAndBlockingCallsRunOnItsWorker()
    {
        using var reactors = new AioReactorPool(count: 2);
        using var volume = Open("threads.img", 1L << 20, 4096, reactors);
        using var buffer = new AlignedBuffer(4096);
        EngineLane lane = reactors.AcquireLane();
        Assert.NotNull(lane.AioReactor);
        Assert.StartsWith("novastor-aio-", lane.Name, StringComparison.Ordinal);
        BlockRequest[] requests =
        [
            new(BlockOperation.Write, 0, 4096, buffer.Address, Lane: lane),
            new(BlockOperation.Write, 4096, 4096, buffer.Address, BlockFlags.ForceUnitAccess, lane),
            new(BlockOperation.Read, 0, 4096, buffer.Address, Lane: lane),
            new(BlockOperation.Flush, 0, 0, Lane: lane),
            new(BlockOperation.WriteZeroes, 0, 4096, 0, BlockFlags.ForceUnitAccess, lane),
            new(BlockOperation.Deallocate, 0, 4096, Lane: lane),
            new(BlockOperation.Read, 1L << 20, 4096, buffer.Address, Lane: lane), // ERANGE: rejected before any I/O
        ];
        var recorder = new ThreadRecordingCompletion(requests.Length);
        for (int i = 0; i < requests.Length; i++)
        {
            volume.Submit(in requests[i], recorder, (ulong)i);
        }
        await recorder.All.Task.WaitAsync(VolumeTestExtensions.Timeout);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(lane.Name, recorder.ThreadNames[i]);
            Assert.Equal(i == requests.Length - 1 ? Errno.ERANGE : 0, recorder.Errors[i]);
        }
    }

    [Fact]
    public async Task WriteZeroesAndDeallocateReadBackAsZeroes()
    {
        using var reactors = new AioReactorPool();
        using var volume = Open("zeroes.img", 1L << 20, 4096, reactors);
        await volume.WriteBytesAsync(0, Enumerable.Repeat((byte)0x5A, 64 * 1024).ToArray());
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.WriteZeroes, 0, 16 * 1024)));
        Assert.True(volume.DeallocatedReadsZeroes, "ext4/xfs punch holes");
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Deallocate, 32 * 1024, 16 * 1024)));
        byte[] back = await volume.ReadBytesAsync(0, 64 * 1024);
        Assert.True(back.AsSpan(0, 16 * 1024).IndexOfAnyExcept((byte)0) < 0, "Write Zeroes left data");
        Assert.True(back.AsSpan(16 * 1024, 16 * 1024).IndexOfAnyExcept((byte)0x5A) < 0, "data next to the range changed");
        Assert.True(back.AsSpan(32 * 1024, 16 * 1024).IndexOfAnyExcept((byte)0) < 0, "Deallocate left data");
    }

    [Fact]
    public async Task DisposingTheVolumeThenThePoolWithRequestsInFlightCompletesThemAll()
    {
        const int Requests = 600;
        var reactors = new AioReactorPool(capacity: 8);
        var volume = Open("dispose.img", 16L << 20, 4096, reactors);
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
        using var reactors = new AioReactorPool();
        string path = _directory.File("short.img");
        using var volume = Open("short.img", 1L << 20, 4096, reactors);
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
    public async Task AnIdleReactorSleeps()
    {
        using var reactors = new AioReactorPool();
        using var volume = Open("idle.img", 1L << 20, 4096, reactors);
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        int tid = reactors[0].OsThreadId;
        Assert.Equal("novastor-aio-0", File.ReadAllText($"/proc/self/task/{tid}/comm").Trim());
        long before = ThreadCpu.Ticks(tid);
        await Task.Delay(500);
        long used = ThreadCpu.Ticks(tid) - before;
        Assert.True(used <= 5, $"an idle AIO reactor used {used} clock ticks in 500 ms");
    }
}

/// <summary>Steady-state AIO requests allocate nothing (alone, after a warm-up, best of several rounds).</summary>
[Collection(nameof(AllocationCollection))]
public sealed class AioAllocationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(1024)]
    [InlineData(4)] // constant backpressure: requests wait for a slot
    public void AioRequestsDoNotAllocate(int capacity)
    {
        using var reactors = new AioReactorPool(count: 2, capacity: capacity);
        using var volume = AioFileVolume.Create(FileVolume.OpenOrCreate(_directory.File("alloc.img"), 16L << 20, 4096), reactors);
        RequestAllocation.AssertNone(volume, RequestAllocation.Mixed);
    }
}
