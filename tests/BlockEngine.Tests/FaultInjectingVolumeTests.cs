using System.Diagnostics;

namespace NovaStor.BlockEngine.Tests;

/// <summary>The behavioural suite through the decorator with no rules: it must be invisible.</summary>
public sealed class FaultInjectingVolumeBehaviourTests : VolumeBehaviourTests
{
    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => new FaultInjectingVolume(new MemoryVolume(sizeBytes, blockSize));
}

/// <summary>
/// The suite with a rule that fires on every request but injects nothing (no error, no delay):
/// every request takes the disturbed path (hand-off, then the inner volume) and must still behave.
/// </summary>
public sealed class PassiveRuleFaultInjectingVolumeBehaviourTests : VolumeBehaviourTests
{
    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
    {
        var volume = new FaultInjectingVolume(new MemoryVolume(sizeBytes, blockSize));
        volume.AddRule(new FaultRule { Error = 0 });
        return volume;
    }
}

/// <summary>What the decorator injects: exactly the configured failures, nothing else.</summary>
public sealed class FaultInjectingVolumeTests
{
    [Fact]
    public async Task EveryThirdWriteFailsAndNeverReachesTheVolume()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        var rule = new FaultRule { Operation = BlockOperation.Write, EveryNth = 3, Error = Errno.EIO };
        volume.AddRule(rule);

        for (int i = 0; i < 30; i++)
        {
            using var buffer = new AlignedBuffer(4096);
            buffer.Span.Fill((byte)(i + 1));
            int error = await volume.WriteAsync(i * 4096L, buffer);
            Assert.Equal(i % 3 == 2 ? Errno.EIO : 0, error);
            Assert.Equal(0, await volume.ReadAsync(i * 4096L, buffer)); // reads are not matched
        }

        Assert.Equal(30, rule.MatchCount);
        Assert.Equal(10, rule.InjectionCount);
        Assert.Equal(10, volume.InjectedErrors);
        byte[] data = await volume.ReadBytesAsync(0, 30 * 4096);
        for (int i = 0; i < 30; i++)
        {
            byte expected = i % 3 == 2 ? (byte)0 : (byte)(i + 1); // a failed write left nothing
            Assert.True(data.AsSpan(i * 4096, 4096).IndexOfAnyExcept(expected) < 0, $"block {i}");
        }
    }

    [Fact]
    public async Task OnceAfterNFailsOnlyTheRequestAfterTheFirstN()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        volume.AddRule(new FaultRule { Error = Errno.ENOSPC, SkipFirst = 5, MaxInjections = 1 });
        var errors = new List<int>();
        for (int i = 0; i < 12; i++)
        {
            errors.Add(await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        }
        Assert.Equal([0, 0, 0, 0, 0, Errno.ENOSPC, 0, 0, 0, 0, 0, 0], errors);
    }

    [Fact]
    public async Task ARangeRuleFailsOnlyOverlappingRequestsAndNotFlushes()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(4L << 20, 512));
        using var buffer = new AlignedBuffer(8192);
        volume.AddRule(new FaultRule { RangeStart = 1L << 20, RangeEnd = 2L << 20, Error = Errno.EIO });

        Assert.Equal(0, await volume.ReadAsync((1L << 20) - 8192, buffer));      // ends at the start
        Assert.Equal(Errno.EIO, await volume.ReadAsync((1L << 20) - 512, buffer)); // overlaps one block
        Assert.Equal(Errno.EIO, await volume.WriteAsync((2L << 20) - 512, buffer));
        Assert.Equal(0, await volume.WriteAsync(2L << 20, buffer));               // starts at the end
        Assert.Equal(Errno.EIO, await volume.SubmitAsync(new BlockRequest(BlockOperation.WriteZeroes, 0, 4L << 20)));
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
    }

    [Fact]
    public async Task AnOperationRuleLeavesOtherOperationsAlone()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        volume.AddRule(FaultRule.Always(Errno.EROFS, BlockOperation.Deallocate));
        Assert.Equal(Errno.EROFS, await volume.SubmitAsync(new BlockRequest(BlockOperation.Deallocate, 0, 4096)));
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.WriteZeroes, 0, 4096)));
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
    }

    [Fact]
    public async Task AFailureThatReachesTheVolumeLandsButReportsTheError()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        volume.AddRule(new FaultRule { Operation = BlockOperation.Write, ReachesVolume = true, MaxInjections = 1 });
        using var buffer = new AlignedBuffer(4096);
        buffer.Span.Fill(0x77);

        Assert.Equal(Errno.EIO, await volume.WriteAsync(8192, buffer));
        Assert.True((await volume.ReadBytesAsync(8192, 4096)).AsSpan().IndexOfAnyExcept((byte)0x77) < 0);
    }

    [Fact]
    public async Task ADelayOnlyRuleDelaysAndSucceeds()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        volume.AddRule(new FaultRule { Operation = BlockOperation.Flush, Error = 0, Delay = TimeSpan.FromMilliseconds(200) });
        var clock = Stopwatch.StartNew();
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(190), $"completed after {clock.Elapsed}");

        clock.Restart();
        await volume.WriteBytesAsync(0, new byte[4096]); // not matched: not delayed
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(190), $"an unmatched write took {clock.Elapsed}");
    }

    [Fact]
    public async Task ADelayedErrorArrivesAfterTheDelay()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        volume.AddRule(new FaultRule { Error = Errno.ETIMEDOUT, Delay = TimeSpan.FromMilliseconds(150) });
        var clock = Stopwatch.StartNew();
        Assert.Equal(Errno.ETIMEDOUT, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(140), $"completed after {clock.Elapsed}");
    }

    [Fact]
    public async Task ConcurrentSubmittersSeeExactlyTheConfiguredCounts()
    {
        const int Threads = 8;
        const int PerThread = 250;
        using var volume = new FaultInjectingVolume(new MemoryVolume(4L << 20, 4096));
        var everyTenth = new FaultRule { Operation = BlockOperation.Read, EveryNth = 10 };
        var sevenWrites = new FaultRule { Operation = BlockOperation.Write, Error = Errno.ENOSPC, MaxInjections = 7 };
        volume.AddRule(everyTenth);
        volume.AddRule(sevenWrites);
        using var buffer = new AlignedBuffer(Threads * 4096);
        var recorder = new CountingCompletion(Threads * PerThread * 2);

        Task[] submitters = new Task[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int thread = t;
            submitters[t] = Task.Run(() =>
            {
                nint address = buffer.AddressAt(thread * 4096);
                for (int i = 0; i < PerThread; i++)
                {
                    long offset = ((thread * PerThread) + i) % 1024 * 4096L;
                    volume.Submit(new BlockRequest(BlockOperation.Read, offset, 4096, address), recorder, 0);
                    volume.Submit(new BlockRequest(BlockOperation.Write, offset, 4096, address), recorder, 0);
                }
            });
        }
        await Task.WhenAll(submitters);
        await recorder.All.Task.WaitAsync(VolumeTestExtensions.Timeout);

        Assert.Equal(Threads * PerThread / 10, recorder.CountOf(Errno.EIO));
        Assert.Equal(7, recorder.CountOf(Errno.ENOSPC));
        Assert.Equal((Threads * PerThread * 2) - (Threads * PerThread / 10) - 7, recorder.CountOf(0));
        Assert.Equal(Threads * PerThread, everyTenth.MatchCount);
        Assert.Equal(7, sevenWrites.InjectionCount);
        Assert.Equal((Threads * PerThread / 10) + 7, volume.InjectedErrors);
    }

    [Fact]
    public async Task TheFirstRuleThatFiresDecides()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        var first = new FaultRule { Error = Errno.EIO, EveryNth = 2 };
        var second = FaultRule.Always(Errno.ENOSPC);
        volume.AddRule(first);
        volume.AddRule(second);
        var errors = new List<int>();
        for (int i = 0; i < 4; i++)
        {
            errors.Add(await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        }
        Assert.Equal([Errno.ENOSPC, Errno.EIO, Errno.ENOSPC, Errno.EIO], errors);
        Assert.Equal(2, second.MatchCount); // the requests the first rule took never reached it
    }

    [Fact]
    public async Task RemovingOrClearingRulesRestoresPassThrough()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        var flushes = FaultRule.Always(Errno.EIO, BlockOperation.Flush);
        volume.AddRule(flushes);
        volume.AddRule(FaultRule.Always(Errno.EIO, BlockOperation.Deallocate));
        Assert.Equal(Errno.EIO, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));

        Assert.True(volume.RemoveRule(flushes));
        Assert.False(volume.RemoveRule(flushes));
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        Assert.Equal(Errno.EIO, await volume.SubmitAsync(new BlockRequest(BlockOperation.Deallocate, 0, 4096)));

        volume.ClearRules();
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Deallocate, 0, 4096)));
    }

    [Fact]
    public async Task InjectedFailuresNeverCompleteOnTheSubmittingStack()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        volume.AddRule(FaultRule.Always(Errno.EIO));
        var probe = new InlineProbe();
        probe.SubmitAll(volume, [new BlockRequest(BlockOperation.Flush, 0, 0), new BlockRequest(BlockOperation.Deallocate, 0, 4096)]);
        await probe.All.Task.WaitAsync(VolumeTestExtensions.Timeout);
        Assert.Equal(0, Volatile.Read(ref probe.Inline));
        Assert.Equal([Errno.EIO, Errno.EIO], probe.Errors);
    }

    [Fact]
    public async Task AfterDisposeRequestsGetTheInnerVolumesEnodev()
    {
        var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        volume.AddRule(FaultRule.Always(Errno.EIO));
        volume.Dispose();
        Assert.Equal(Errno.ENODEV, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
    }

    [Fact]
    public async Task ABorrowedInnerVolumeIsNotDisposed()
    {
        using var inner = new MemoryVolume(1L << 20, 4096);
        new FaultInjectingVolume(inner, ownsInner: false).Dispose();
        Assert.Equal(0, await inner.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
    }

    [Fact]
    public void MalformedRulesAreRefused()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(1L << 20, 4096));
        Assert.ThrowsAny<ArgumentException>(() => volume.AddRule(new FaultRule { EveryNth = 0 }));
        Assert.ThrowsAny<ArgumentException>(() => volume.AddRule(new FaultRule { Error = -5 }));
        Assert.ThrowsAny<ArgumentException>(() => volume.AddRule(new FaultRule { Delay = TimeSpan.FromSeconds(-1) }));
    }

    private sealed class CountingCompletion(int expected) : IBlockCompletion
    {
        public readonly TaskCompletionSource All = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, int> _byError = new();
        private int _remaining = expected;

        public int CountOf(int error) => _byError.GetValueOrDefault(error);

        public void OnBlockCompleted(ulong userData, int error)
        {
            _byError.AddOrUpdate(error, 1, static (_, n) => n + 1);
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                All.SetResult();
            }
        }
    }
}

/// <summary>Without rules the decorator adds no allocation, measured alone (the whole process is measured).</summary>
[Collection(nameof(AllocationCollection))]
public sealed class FaultInjectingVolumeAllocationTests
{
    [Fact]
    public void WithoutRulesRequestsAllocateNothing()
    {
        using var volume = new FaultInjectingVolume(new MemoryVolume(16L << 20, 4096));
        RequestAllocation.AssertNone(volume, RequestAllocation.Mixed);
    }
}
