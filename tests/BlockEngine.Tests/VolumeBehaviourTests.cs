namespace NovaStor.BlockEngine.Tests;

/// <summary>
/// The behaviour every <see cref="IBlockVolume"/> must have. Each backend derives from this class
/// and says how to create a volume.
/// </summary>
public abstract class VolumeBehaviourTests : IDisposable
{
    private readonly List<IBlockVolume> _volumes = [];

    /// <summary>Creates a fresh, zeroed volume.</summary>
    protected abstract IBlockVolume CreateVolume(long sizeBytes, int blockSize);

    protected IBlockVolume NewVolume(long sizeBytes, int blockSize)
    {
        IBlockVolume volume = CreateVolume(sizeBytes, blockSize);
        _volumes.Add(volume);
        Assert.Equal(sizeBytes, volume.SizeBytes);
        Assert.Equal(blockSize, volume.BlockSize);
        Assert.True(volume.BufferAlignment >= 512 && volume.BufferAlignment <= AlignedBuffer.Alignment);
        Assert.Equal(0, volume.BufferAlignment & (volume.BufferAlignment - 1));
        return volume;
    }

    public virtual void Dispose()
    {
        foreach (IBlockVolume volume in _volumes)
        {
            volume.Dispose();
        }
        Assert.Equal(0, Volatile.Read(ref VolumeTestExtensions.DuplicateCompletions));
        GC.SuppressFinalize(this);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task ConcurrentWritesAndReadsRoundTripAtManyOffsets(int blockSize)
    {
        const int Lanes = 64;             // outstanding requests at once
        const int SlotBytes = 64 * 1024;  // each lane owns every 64th slot of 64 KiB
        const long Size = 32L << 20;
        IBlockVolume volume = NewVolume(Size, blockSize);
        byte[] shadow = new byte[Size];   // what the volume must hold; lanes touch disjoint slots
        int slots = (int)(Size / SlotBytes);

        Task[] lanes = new Task[Lanes];
        for (int lane = 0; lane < Lanes; lane++)
        {
            int laneId = lane;
            lanes[lane] = Task.Run(async () =>
            {
                var random = new Random(1000 + laneId);
                using var writeBuffer = new AlignedBuffer(SlotBytes);
                using var readBuffer = new AlignedBuffer(SlotBytes);
                for (int slot = laneId; slot < slots; slot += Lanes)
                {
                    int blocksPerSlot = SlotBytes / blockSize;
                    int first = random.Next(blocksPerSlot);
                    int count = 1 + random.Next(blocksPerSlot - first);
                    long offset = ((long)slot * SlotBytes) + ((long)first * blockSize);
                    int length = count * blockSize;

                    random.NextBytes(writeBuffer.AsSpan(0, length));
                    Assert.Equal(0, await volume.WriteAsync(offset, writeBuffer, length));
                    writeBuffer.AsSpan(0, length).CopyTo(shadow.AsSpan((int)offset, length));

                    readBuffer.Span.Fill(0xEE);
                    Assert.Equal(0, await volume.ReadAsync(offset, readBuffer, length));
                    Assert.True(readBuffer.AsSpan(0, length).SequenceEqual(writeBuffer.AsSpan(0, length)),
                        $"lane {laneId}: slot {slot} read back differs at offset {offset} length {length}");
                }
            });
        }
        await Task.WhenAll(lanes).WaitAsync(VolumeTestExtensions.Timeout);

        // Every byte of the volume, written or not, against the shadow.
        const int Chunk = 1 << 20;
        for (long offset = 0; offset < Size; offset += Chunk)
        {
            byte[] actual = await volume.ReadBytesAsync(offset, Chunk);
            Assert.True(actual.AsSpan().SequenceEqual(shadow.AsSpan((int)offset, Chunk)), $"volume differs from the shadow in the MiB at {offset}");
        }
    }

    [Fact]
    public async Task NeverWrittenBlocksReadZeroes()
    {
        IBlockVolume volume = NewVolume(8L << 20, 4096);
        byte[] data = await volume.ReadBytesAsync(3L << 20, 256 * 1024);
        Assert.All(data, b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task FuaWriteAndFlushSucceedAndKeepData(int blockSize)
    {
        IBlockVolume volume = NewVolume(4L << 20, blockSize);
        byte[] first = RandomBytes(8 * blockSize, 1);
        byte[] second = RandomBytes(3 * blockSize, 2);

        await volume.WriteBytesAsync(blockSize, first, BlockFlags.ForceUnitAccess);
        await volume.WriteBytesAsync(100 * blockSize, second);
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));

        Assert.Equal(first, await volume.ReadBytesAsync(blockSize, first.Length));
        Assert.Equal(second, await volume.ReadBytesAsync(100 * blockSize, second.Length));
    }

    [Theory]
    [InlineData(512, BlockOperation.WriteZeroes, BlockFlags.None)]
    [InlineData(4096, BlockOperation.WriteZeroes, BlockFlags.None)]
    [InlineData(4096, BlockOperation.WriteZeroes, BlockFlags.ForceUnitAccess)]
    [InlineData(512, BlockOperation.Deallocate, BlockFlags.None)]
    [InlineData(4096, BlockOperation.Deallocate, BlockFlags.None)]
    public async Task ZeroingARangeZeroesItAndKeepsTheNeighbours(int blockSize, BlockOperation operation, BlockFlags flags)
    {
        IBlockVolume volume = NewVolume(16L << 20, blockSize);
        // A range that is not page aligned when the block is 512, and one that spans pages.
        foreach ((long offset, long length) in new[] { (3L * blockSize, 5L * blockSize), (1L << 20, 300L * 1024) })
        {
            long start = offset - (2 * blockSize);
            int total = (int)(length + (4 * blockSize));
            byte[] pattern = RandomBytes(total, (int)offset);
            await volume.WriteBytesAsync(start, pattern);

            Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(operation, offset, length, 0, flags)));

            byte[] after = await volume.ReadBytesAsync(start, total);
            int inner = 2 * blockSize;
            Assert.True(after.AsSpan(0, inner).SequenceEqual(pattern.AsSpan(0, inner)), "the blocks before the range changed");
            Assert.True(after.AsSpan(inner + (int)length).SequenceEqual(pattern.AsSpan(inner + (int)length)), "the blocks after the range changed");
            if (operation == BlockOperation.WriteZeroes || volume.DeallocatedReadsZeroes)
            {
                Assert.True(after.AsSpan(inner, (int)length).IndexOfAnyExcept((byte)0) < 0, $"{operation} at {offset} left data behind");
            }
        }
    }

    public static TheoryData<BlockOperation, long, long, int, int> BadRequests()
    {
        const long Size = 1L << 20; // volumes of 1 MiB with 4096-byte blocks below
        return new TheoryData<BlockOperation, long, long, int, int>
        {
            // operation, offset, length, buffer offset from an aligned buffer (-1: no buffer), errno
            { BlockOperation.Read, 512, 4096, 0, Errno.EINVAL },
            { BlockOperation.Read, 0, 1000, 0, Errno.EINVAL },
            { BlockOperation.Read, 0, 0, 0, Errno.EINVAL },
            { BlockOperation.Read, -4096, 4096, 0, Errno.EINVAL },
            { BlockOperation.Read, 0, 4096, -1, Errno.EINVAL },
            { BlockOperation.Read, 0, 4096, 8, Errno.EINVAL },
            { BlockOperation.Write, 0, 4096, 256, Errno.EINVAL },
            { BlockOperation.Write, 0, -4096, 0, Errno.EINVAL },
            { BlockOperation.Read, Size, 4096, 0, Errno.ERANGE },
            { BlockOperation.Write, Size - 4096, 8192, 0, Errno.ERANGE },
            { BlockOperation.Write, Size - 4096, long.MaxValue - 4095, 0, Errno.ERANGE },
            { BlockOperation.Read, long.MaxValue - 4095, 4096, 0, Errno.ERANGE },
            { BlockOperation.WriteZeroes, Size, 4096, -1, Errno.ERANGE },
            { BlockOperation.WriteZeroes, 4096, 100, -1, Errno.EINVAL },
            { BlockOperation.Deallocate, 0, Size + 4096, -1, Errno.ERANGE },
            { BlockOperation.Deallocate, 2048, 4096, -1, Errno.EINVAL },
            { BlockOperation.Deallocate, 0, 0, -1, Errno.EINVAL },
            { (BlockOperation)99, 0, 4096, 0, Errno.EINVAL },
            { BlockOperation.Flush, 12345, -7, -1, 0 }, // the range of a flush is ignored
        };
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadRequestsCompleteWithTheirErrnoWithoutThrowing(BlockOperation operation, long offset, long length, int bufferOffset, int expected)
    {
        IBlockVolume volume = NewVolume(1L << 20, 4096);
        using var buffer = new AlignedBuffer(3 * 4096);
        nint address = bufferOffset < 0 ? 0 : buffer.AddressAt(bufferOffset);
        buffer.Span.Fill(0x5A);

        int error = await volume.SubmitAsync(new BlockRequest(operation, offset, length, address));

        Assert.Equal(expected, error);
        Assert.True(buffer.Span.IndexOfAnyExcept((byte)0x5A) < 0, "a refused request touched the buffer");
        Assert.True((await volume.ReadBytesAsync(0, 1 << 20)).AsSpan().IndexOfAnyExcept((byte)0) < 0, "a refused request changed the volume");
    }

    [Fact]
    public async Task BufferAlignedToBufferAlignmentIsAccepted()
    {
        IBlockVolume volume = NewVolume(1L << 20, 512);
        using var buffer = new AlignedBuffer(3 * 4096);
        buffer.Span.Fill(7);
        int alignment = volume.BufferAlignment;
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Write, 0, 4096, buffer.AddressAt(alignment))));
        byte[] back = await volume.ReadBytesAsync(0, 4096);
        Assert.All(back, b => Assert.Equal(7, b));
    }

    [Fact]
    public async Task SubmitAfterDisposeCompletesWithEnodev()
    {
        IBlockVolume volume = NewVolume(1L << 20, 4096);
        volume.Dispose();
        volume.Dispose(); // twice is harmless
        using var buffer = new AlignedBuffer(4096);
        Assert.Equal(Errno.ENODEV, await volume.ReadAsync(0, buffer));
        Assert.Equal(Errno.ENODEV, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
    }

    [Fact]
    public async Task DisposeLetsAcceptedRequestsFinish()
    {
        const int Requests = 256;
        IBlockVolume volume = NewVolume(4L << 20, 4096);
        using var buffer = new AlignedBuffer(16 * 1024);
        buffer.Span.Fill(0x33);
        var tasks = new Task<int>[Requests];
        for (int i = 0; i < Requests; i++)
        {
            tasks[i] = volume.WriteAsync((i % 256) * 16L * 1024, buffer);
        }
        volume.Dispose();
        int[] results = await Task.WhenAll(tasks);
        Assert.All(results, r => Assert.Equal(0, r));
    }

    [Fact]
    public async Task ACompletionThatThrowsDoesNotBreakTheVolume()
    {
        IBlockVolume volume = NewVolume(1L << 20, 4096);
        var thrower = new ThrowingCompletion();
        volume.Submit(new BlockRequest(BlockOperation.Flush, 0, 0), thrower, 1);
        volume.Submit(new BlockRequest(BlockOperation.Read, 1, 1), thrower, 2);
        await thrower.Called.Task.WaitAsync(VolumeTestExtensions.Timeout);
        await Task.Delay(50);
        Assert.Equal(2, Volatile.Read(ref thrower.Calls));
        await volume.WriteBytesAsync(0, RandomBytes(4096, 9));
        Assert.Equal(RandomBytes(4096, 9), await volume.ReadBytesAsync(0, 4096));
    }

    [Fact]
    public void SubmitWithoutCompletionIsAnArgumentError()
    {
        IBlockVolume volume = NewVolume(1L << 20, 4096);
        Assert.Throws<ArgumentNullException>(() => volume.Submit(new BlockRequest(BlockOperation.Flush, 0, 0), null!, 0));
    }

    [Fact]
    public async Task ManyRequestsCompleteExactlyOnceWithTheirUserData()
    {
        const int Requests = 2000;
        IBlockVolume volume = NewVolume(4L << 20, 4096);
        using var buffer = new AlignedBuffer(4096);
        var recorder = new RecordingCompletion(Requests);
        for (int i = 0; i < Requests; i++)
        {
            var request = (i % 3) switch
            {
                0 => new BlockRequest(BlockOperation.Read, (i % 1024) * 4096L, 4096, buffer.Address),
                1 => new BlockRequest(BlockOperation.Read, 4096 * 2048L, 4096, buffer.Address), // ERANGE
                _ => new BlockRequest(BlockOperation.Flush, 0, 0),
            };
            volume.Submit(in request, recorder, (ulong)i);
        }
        await recorder.All.Task.WaitAsync(VolumeTestExtensions.Timeout);
        await Task.Delay(50); // a duplicate would arrive now
        for (int i = 0; i < Requests; i++)
        {
            Assert.Equal(1, recorder.Counts[i]);
            Assert.Equal(i % 3 == 1 ? Errno.ERANGE : 0, recorder.Errors[i]);
        }
    }

    protected static byte[] RandomBytes(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private sealed class ThrowingCompletion : IBlockCompletion
    {
        public readonly TaskCompletionSource Called = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Calls;

        public void OnBlockCompleted(ulong userData, int error)
        {
            if (Interlocked.Increment(ref Calls) == 2)
            {
                Called.SetResult();
            }
            throw new InvalidOperationException("a buggy caller");
        }
    }

    private sealed class RecordingCompletion(int count) : IBlockCompletion
    {
        public readonly int[] Counts = new int[count];
        public readonly int[] Errors = new int[count];
        public readonly TaskCompletionSource All = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _remaining = count;

        public void OnBlockCompleted(ulong userData, int error)
        {
            Errors[userData] = error;
            if (Interlocked.Increment(ref Counts[userData]) == 1 && Interlocked.Decrement(ref _remaining) == 0)
            {
                All.SetResult();
            }
        }
    }
}

public sealed class MemoryVolumeBehaviourTests : VolumeBehaviourTests
{
    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize) => new MemoryVolume(sizeBytes, blockSize);
}

/// <summary>The suite on a file in the temp directory (ext4 or xfs here: O_DIRECT).</summary>
public sealed class FileVolumeBehaviourTests : VolumeBehaviourTests
{
    private readonly TempDirectory _directory = new();
    private int _count;

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => FileVolume.OpenOrCreate(_directory.File($"v{_count++}.img"), sizeBytes, blockSize);

    public override void Dispose()
    {
        base.Dispose();
        _directory.Dispose();
    }
}

/// <summary>The suite on tmpfs (/dev/shm): buffered I/O and the Write Zeroes fallback.</summary>
public sealed class ShmFileVolumeBehaviourTests : VolumeBehaviourTests
{
    private readonly TempDirectory _directory = new(Directory.Exists("/dev/shm") ? "/dev/shm" : null);
    private int _count;

    protected override IBlockVolume CreateVolume(long sizeBytes, int blockSize)
        => FileVolume.OpenOrCreate(_directory.File($"v{_count++}.img"), sizeBytes, blockSize);

    public override void Dispose()
    {
        base.Dispose();
        _directory.Dispose();
    }
}
