namespace NovaStor.BlockEngine.Tests;

/// <summary>
/// NullVolume keeps no data, so the data-integrity suite does not apply: these tests pin down what
/// it does promise (zeroes, validation, asynchrony, disposal, no allocation).
/// </summary>
public sealed class NullVolumeTests
{
    [Fact]
    public async Task ReadsReturnZeroesEvenAfterWrites()
    {
        using var volume = new NullVolume(1L << 20, 4096);
        byte[] pattern = new byte[64 * 1024];
        new Random(1).NextBytes(pattern);
        await volume.WriteBytesAsync(0, pattern, BlockFlags.ForceUnitAccess);

        byte[] back = await volume.ReadBytesAsync(0, pattern.Length); // the buffer starts as 0xEE
        Assert.True(back.AsSpan().IndexOfAnyExcept((byte)0) < 0, "a read did not zero-fill the buffer");
        Assert.True(volume.DeallocatedReadsZeroes);
    }

    [Theory]
    [InlineData(BlockOperation.Flush)]
    [InlineData(BlockOperation.WriteZeroes)]
    [InlineData(BlockOperation.Deallocate)]
    public async Task EveryOperationSucceeds(BlockOperation operation)
    {
        using var volume = new NullVolume(1L << 20, 512);
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(operation, 512, 4096, 0, BlockFlags.ForceUnitAccess)));
    }

    [Theory]
    [MemberData(nameof(VolumeBehaviourTests.BadRequests), MemberType = typeof(VolumeBehaviourTests))]
    public async Task BadRequestsCompleteWithTheSameErrnoAsOtherBackends(BlockOperation operation, long offset, long length, int bufferOffset, int expected)
    {
        using var volume = new NullVolume(1L << 20, 4096);
        using var buffer = new AlignedBuffer(3 * 4096);
        buffer.Span.Fill(0x5A);
        nint address = bufferOffset < 0 ? 0 : buffer.AddressAt(bufferOffset);

        Assert.Equal(expected, await volume.SubmitAsync(new BlockRequest(operation, offset, length, address)));
        Assert.True(buffer.Span.IndexOfAnyExcept((byte)0x5A) < 0, "a refused request touched the buffer");
    }

    [Fact]
    public async Task CompletionsNeverRunOnTheSubmittingStack()
    {
        using var volume = new NullVolume(1L << 20, 4096);
        using var buffer = new AlignedBuffer(4096);
        var probe = new InlineProbe();
        probe.SubmitAll(volume, [
            new BlockRequest(BlockOperation.Read, 0, 4096, buffer.Address),
            new BlockRequest(BlockOperation.Write, 0, 4096, buffer.Address),
            new BlockRequest(BlockOperation.Flush, 0, 0),
            new BlockRequest(BlockOperation.Read, 1, 1, buffer.Address), // refused: EINVAL, still asynchronous
        ]);
        await probe.All.Task.WaitAsync(VolumeTestExtensions.Timeout);
        Assert.Equal(0, Volatile.Read(ref probe.Inline));
    }

    [Fact]
    public async Task SubmitAfterDisposeCompletesWithEnodev()
    {
        var volume = new NullVolume(1L << 20, 4096);
        volume.Dispose();
        volume.Dispose();
        Assert.Equal(Errno.ENODEV, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
    }

    [Fact]
    public void AnyHugeSizeCostsNothing()
    {
        long before = GC.GetAllocatedBytesForCurrentThread(); // this thread only: other tests run in parallel
        using var volume = new NullVolume(1L << 50, 4096); // 1 PiB
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(1L << 50, volume.SizeBytes);
        Assert.True(allocated < 64 * 1024, $"{allocated} bytes allocated by the constructor");
    }

    [Theory]
    [InlineData(1L << 20, 1024)]
    [InlineData(0, 4096)]
    [InlineData(4096 + 512, 4096)]
    public void BadGeometryIsRefused(long sizeBytes, int blockSize)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new NullVolume(sizeBytes, blockSize));
}

/// <summary>Steady-state requests allocate nothing, measured alone (the whole process is measured).</summary>
[Collection(nameof(AllocationCollection))]
public sealed class NullVolumeAllocationTests
{
    [Fact]
    public void RequestsAllocateNothingInSteadyState()
    {
        using var volume = new NullVolume(64L << 20, 4096);
        RequestAllocation.AssertNone(volume, RequestAllocation.Mixed);
    }
}

/// <summary>Records whether a completion ran while its own Submit call was still on the stack.</summary>
internal sealed class InlineProbe : IBlockCompletion
{
    [ThreadStatic]
    private static bool t_submitting;

    public readonly TaskCompletionSource All = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int Inline;
    public int[] Errors = [];
    private int _remaining;

    public void SubmitAll(IBlockVolume volume, BlockRequest[] requests)
    {
        Errors = new int[requests.Length];
        _remaining = requests.Length;
        for (int i = 0; i < requests.Length; i++)
        {
            t_submitting = true;
            try
            {
                volume.Submit(in requests[i], this, (ulong)i);
            }
            finally
            {
                t_submitting = false;
            }
        }
    }

    public void OnBlockCompleted(ulong userData, int error)
    {
        if (t_submitting)
        {
            Interlocked.Increment(ref Inline);
        }
        Errors[userData] = error;
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            All.SetResult();
        }
    }
}
