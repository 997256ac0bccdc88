using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine.Tests;

/// <summary>Lanes bind a submitter to one reactor, and their buffers are the reactor's registered memory.</summary>
public sealed class EngineLaneTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task RequestsOnALaneRunOnItsReactorWithRegisteredBuffers()
    {
        using ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2, RegisteredBufferBytes = 4L << 20, RegisteredChunkBytes = 64 * 1024 });
        using var volume = IoUringFileVolume.OpenOrCreate(_directory.File("lane.img"), 8L << 20, 4096, reactors);
        EngineLane first = reactors.AcquireLane();
        EngineLane second = reactors.AcquireLane();
        Assert.NotEqual(first.Name, second.Name);

        foreach (EngineLane lane in new[] { first, second })
        {
            Reactor reactor = lane.Reactor!;
            using AlignedBuffer buffer = lane.RentBuffer(64 * 1024);
            Assert.True(lane.IsRegistered(buffer), "a rented buffer is not the reactor's registered memory");
            long fixedBefore = reactor.FixedSubmissions;
            Random.Shared.NextBytes(buffer.Span);
            byte[] written = buffer.Span.ToArray();

            var write = new ReactorTests.ThreadRecordingCompletion(1);
            volume.Submit(new BlockRequest(BlockOperation.Write, 64 * 1024, buffer.Length, buffer.Address, BlockFlags.None, lane), write, 0);
            await write.All.Task.WaitAsync(VolumeTestExtensions.Timeout);
            buffer.Clear();
            var read = new ReactorTests.ThreadRecordingCompletion(1);
            volume.Submit(new BlockRequest(BlockOperation.Read, 64 * 1024, buffer.Length, buffer.Address, BlockFlags.None, lane), read, 0);
            await read.All.Task.WaitAsync(VolumeTestExtensions.Timeout);

            Assert.Equal(0, write.Errors[0]);
            Assert.Equal(0, read.Errors[0]);
            Assert.Equal(reactor.ManagedThreadId, write.ThreadIds[0]);
            Assert.Equal(reactor.ManagedThreadId, read.ThreadIds[0]);
            Assert.True(buffer.Span.SequenceEqual(written), "the bytes read through a registered buffer differ from those written");
            Assert.Equal(fixedBefore + 2, reactor.FixedSubmissions);
        }
    }

    [Fact]
    public async Task ABufferUsedOnAnotherReactorStillWorksAsAPlainRequest()
    {
        using ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = 2, RegisteredBufferBytes = 1L << 20 });
        using var volume = IoUringFileVolume.OpenOrCreate(_directory.File("cross.img"), 4L << 20, 512, reactors);
        EngineLane owner = reactors.AcquireLane();
        EngineLane other = reactors.AcquireLane();
        using AlignedBuffer buffer = owner.RentBuffer(8192);
        buffer.Span.Fill(0x5A);
        long fixedBefore = other.Reactor!.FixedSubmissions;

        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Write, 0, 8192, buffer.Address, BlockFlags.None, other)));
        buffer.Clear();
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Read, 0, 8192, buffer.Address, BlockFlags.None, other)));

        Assert.True(buffer.Span.IndexOfAnyExcept((byte)0x5A) < 0);
        Assert.Equal(fixedBefore, other.Reactor.FixedSubmissions); // not that ring's memory: plain READ/WRITE
    }

    [Fact]
    public void RentingBeyondThePoolFallsBackToPlainMemoryAndReturnsReuseChunks()
    {
        using ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { RegisteredBufferBytes = 256 * 1024, RegisteredChunkBytes = 128 * 1024 });
        EngineLane lane = reactors.AcquireLane();
        AlignedBuffer a = lane.RentBuffer(128 * 1024);
        AlignedBuffer b = lane.RentBuffer(4096);
        using AlignedBuffer overflow = lane.RentBuffer(4096);
        using AlignedBuffer tooLong = lane.RentBuffer(256 * 1024);
        Assert.True(lane.IsRegistered(a) && lane.IsRegistered(b));
        Assert.False(lane.IsRegistered(overflow), "a third chunk came from a two-chunk pool");
        Assert.False(lane.IsRegistered(tooLong), "a buffer longer than a chunk came from the pool");

        a.Span.Fill(0xFF);
        nint address = a.Address;
        a.Dispose();
        using AlignedBuffer again = lane.RentBuffer(128 * 1024);
        Assert.Equal(address, again.Address);
        Assert.True(again.Span.IndexOfAnyExcept((byte)0) < 0, "a reused chunk still holds the previous tenant's bytes");
        b.Dispose();
        Assert.Equal(1, lane.Reactor!.Buffers!.Rented);
    }

    [Fact]
    public void ABufferOutlivingItsReactorStaysUsableUntilReturned()
    {
        AlignedBuffer buffer;
        RegisteredBufferPool pool;
        using (ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { RegisteredBufferBytes = 1L << 20 }))
        {
            EngineLane lane = reactors.AcquireLane();
            buffer = lane.RentBuffer(4096);
            pool = lane.Reactor!.Buffers!;
        }

        // The reactor has stopped: the pool refuses new rents but keeps the slab for the rented chunk.
        Assert.Null(pool.TryRent(4096));
        Assert.Equal(1, pool.Rented);
        buffer.Span.Fill(1);
        Assert.Equal(4096, buffer.Span.Count((byte)1));
        buffer.Dispose();
        Assert.Equal(0, pool.Rented); // the last return frees the slab
        Assert.True(buffer.IsDisposed);
    }

    [Fact]
    public void WithoutRegisteredMemoryALaneHandsOutPlainBuffers()
    {
        using ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { RegisteredBufferBytes = 0 });
        EngineLane lane = reactors.AcquireLane();
        using AlignedBuffer buffer = lane.RentBuffer(4096);
        Assert.False(lane.IsRegistered(buffer));
        using AlignedBuffer unbound = EngineLane.Unbound.RentBuffer(4096);
        Assert.False(EngineLane.Unbound.IsRegistered(unbound));
        Assert.Equal("unbound", EngineLane.Unbound.Name);
    }
}

/// <summary>Concurrent random I/O from several lanes (reactors), registered buffers, stamped blocks verified.</summary>
public sealed class EngineLaneIntegrityTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task RandomWritesFromSeveralLanesReadBackStamped(int blockSize)
    {
        const int Lanes = 3;
        const int InFlightPerLane = 16;
        const int WritesPerLane = 600;
        const long Size = 8L << 20;
        using ReactorPool reactors = ReactorTestSupport.CreatePool(new ReactorPoolOptions { Count = Lanes, RegisteredBufferBytes = 2L << 20, RegisteredChunkBytes = 16 * 1024 });
        using var volume = IoUringFileVolume.OpenOrCreate(_directory.File("stamped.img"), Size, blockSize, reactors);
        long blocks = Size / blockSize;
        long[] generation = new long[blocks]; // the last stamp written to each block (lanes own disjoint blocks)

        var tasks = new Task[Lanes * InFlightPerLane];
        for (int lane = 0; lane < Lanes; lane++)
        {
            EngineLane engineLane = reactors.AcquireLane();
            for (int worker = 0; worker < InFlightPerLane; worker++)
            {
                int laneId = lane;
                int seed = (lane * 100) + worker;
                int workerId = worker;
                tasks[(lane * InFlightPerLane) + worker] = Task.Run(async () =>
                {
                    var random = new Random(seed);
                    using AlignedBuffer buffer = engineLane.RentBuffer(16 * 1024);
                    Assert.True(engineLane.IsRegistered(buffer), "lane buffers should be registered here");
                    // Worker w of all Lanes x InFlightPerLane owns the blocks b with b % workers == w, so
                    // no two requests in flight touch one block and each block's last stamp is known.
                    int workers = Lanes * InFlightPerLane;
                    int owner = (laneId * InFlightPerLane) + workerId;
                    for (int i = 0; i < WritesPerLane / InFlightPerLane; i++)
                    {
                        long block = (random.NextInt64(blocks / workers) * workers) + owner;
                        long stamp = ((long)(owner + 1) << 32) | (uint)(i + 1);
                        Stamp(buffer.AsSpan(0, blockSize), block, stamp);
                        var request = new BlockRequest(BlockOperation.Write, block * blockSize, blockSize, buffer.Address, BlockFlags.None, engineLane);
                        Assert.Equal(0, await volume.SubmitAsync(request));
                        generation[block] = stamp;
                    }
                });
            }
        }
        await Task.WhenAll(tasks).WaitAsync(VolumeTestExtensions.Timeout);
        Assert.True(reactors[0].FixedSubmissions + reactors[1].FixedSubmissions + reactors[2].FixedSubmissions > 0);

        using var readBuffer = new AlignedBuffer(1 << 20);
        for (long offset = 0; offset < Size; offset += readBuffer.Length)
        {
            Assert.Equal(0, await volume.ReadAsync(offset, readBuffer));
            for (int i = 0; i < readBuffer.Length / blockSize; i++)
            {
                long block = (offset / blockSize) + i;
                Span<byte> data = readBuffer.AsSpan(i * blockSize, blockSize);
                if (generation[block] == 0)
                {
                    Assert.True(data.IndexOfAnyExcept((byte)0) < 0, $"block {block} was never written but is not zero");
                }
                else
                {
                    Assert.True(IsStamped(data, block, generation[block]), $"block {block} does not hold its last stamp {generation[block]:x}");
                }
            }
        }
    }

    /// <summary>Fills a block with (block number, stamp) pairs: a misplaced or stale block is caught.</summary>
    private static void Stamp(Span<byte> block, long number, long stamp)
    {
        for (int i = 0; i + 16 <= block.Length; i += 16)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(block[i..], number);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(block[(i + 8)..], stamp);
        }
    }

    private static bool IsStamped(ReadOnlySpan<byte> block, long number, long stamp)
    {
        for (int i = 0; i + 16 <= block.Length; i += 16)
        {
            if (System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(block[i..]) != number
                || System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(block[(i + 8)..]) != stamp)
            {
                return false;
            }
        }
        return true;
    }
}
