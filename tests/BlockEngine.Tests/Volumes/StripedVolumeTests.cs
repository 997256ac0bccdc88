using NovaStor.BlockEngine.Volumes;

namespace NovaStor.BlockEngine.Tests.Volumes;

/// <summary>What striping adds to the shared behaviour: where chunks live, how parts complete, what members must agree on.</summary>
public sealed class StripedVolumeTests
{
    private const int Chunk = StripedTestVolumes.SmallChunk;

    [Fact]
    public void Chunk_owners_are_straw2_of_the_volume_id_and_the_same_in_every_instance()
    {
        using var first = StripedTestVolumes.OverMemory(1 << 20, 4096, out _);
        using var second = StripedTestVolumes.OverMemory(1 << 20, 4096, out _);
        using var other = new StripedVolume(Guid.NewGuid(), [new MemoryVolume(1 << 20, 4096), new MemoryVolume(1 << 20, 4096), new MemoryVolume(1 << 20, 4096)],
            StripedTestVolumes.Ids, StripedTestVolumes.Weights, Chunk);
        int differences = 0;
        for (long chunk = 0; chunk < 2000; chunk++)
        {
            int owner = first.OwnerOf(chunk);
            Assert.Equal(owner, second.OwnerOf(chunk));
            Assert.Equal(Straw2.Select(Straw2.ChunkKey(StripedTestVolumes.VolumeId, chunk), StripedTestVolumes.Ids, StripedTestVolumes.Weights), owner);
            differences += owner == other.OwnerOf(chunk) ? 0 : 1;
        }

        Assert.True(differences > 500, "another volume id should lay its chunks out differently");
    }

    [Fact]
    public void Chunks_spread_over_members_in_proportion_to_their_weights()
    {
        const int Chunks = 60_000;
        var members = new IBlockVolume[] { new StubVolume(4096, 4096), new StubVolume(4096, 4096), new StubVolume(4096, 4096) };
        using var volume = new StripedVolume(Guid.NewGuid(), members, [7, 8, 9], [1, 3, 6], Chunk);
        var owned = new int[3];
        for (long chunk = 0; chunk < Chunks; chunk++)
        {
            owned[volume.OwnerOf(chunk)]++;
        }

        Assert.InRange(owned[0] / (double)Chunks, 0.08, 0.12);
        Assert.InRange(owned[1] / (double)Chunks, 0.27, 0.33);
        Assert.InRange(owned[2] / (double)Chunks, 0.57, 0.63);
    }

    [Theory]
    [InlineData(4096, 5L * Chunk, 4L * Chunk)]                  // chunk aligned, four whole chunks
    [InlineData(4096, (5L * Chunk) + 4096, (5L * Chunk) + 4096)] // starts and ends inside chunks
    [InlineData(512, (5L * Chunk) + 1536, (6L * Chunk) + 1024)] // 512-byte blocks off a 4 KiB boundary: parts bounce
    public async Task A_request_spanning_many_chunks_lands_in_each_owner_at_the_same_offset(int blockSize, long offset, long length)
    {
        using var volume = StripedTestVolumes.OverMemory(1 << 20, blockSize, out var members);
        byte[] data = new byte[length];
        new Random(5).NextBytes(data);

        await volume.WriteBytesAsync(offset, data);

        Assert.Equal(data, await volume.ReadBytesAsync(offset, (int)length));
        var owners = new HashSet<int>();
        for (long at = offset; at < offset + length;)
        {
            long chunk = at / Chunk;
            long next = Math.Min((chunk + 1) * Chunk, offset + length);
            int owner = volume.OwnerOf(chunk);
            owners.Add(owner);
            for (int m = 0; m < members.Length; m++)
            {
                byte[] held = await members[m].ReadBytesAsync(at, (int)(next - at));
                if (m == owner)
                {
                    Assert.True(held.AsSpan().SequenceEqual(data.AsSpan((int)(at - offset), held.Length)), $"chunk {chunk} is not in its owner {m}");
                }
                else
                {
                    Assert.True(held.AsSpan().IndexOfAnyExcept((byte)0) < 0, $"member {m} holds data of chunk {chunk}, owned by {owner}");
                }
            }

            at = next;
        }

        Assert.True(owners.Count >= 2, "the range should span chunks of several members");
    }

    [Fact]
    public async Task A_failing_member_fails_the_whole_request_exactly_once()
    {
        var members = new IBlockVolume[] { new MemoryVolume(1 << 20, 4096), new StubVolume(1 << 20, 4096, errno: Errno.EIO), new MemoryVolume(1 << 20, 4096) };
        using var volume = new StripedVolume(StripedTestVolumes.VolumeId, members, StripedTestVolumes.Ids, StripedTestVolumes.Weights, Chunk);
        using var buffer = new AlignedBuffer(1 << 20);

        Assert.Equal(Errno.EIO, await volume.WriteAsync(0, buffer));
        Assert.Equal(Errno.EIO, await volume.SubmitAsync(new BlockRequest(BlockOperation.Flush, 0, 0)));
        Assert.Equal(Errno.EIO, await volume.SubmitAsync(new BlockRequest(BlockOperation.Deallocate, 0, 1 << 20)));
        long healthy = Enumerable.Range(0, 128).First(c => volume.OwnerOf(c) != 1);
        Assert.Equal(0, await volume.ReadAsync(healthy * Chunk, buffer, Chunk));
        await Task.Delay(50); // a duplicate completion would arrive now
        Assert.Equal(0, Volatile.Read(ref VolumeTestExtensions.DuplicateCompletions));
    }

    [Fact]
    public void Alignment_is_the_strictest_and_zeroed_deallocation_needs_every_member()
    {
        var members = new IBlockVolume[] { new StubVolume(8192, 512, 512), new StubVolume(8192, 512, 4096, deallocatedReadsZeroes: false) };
        using var volume = new StripedVolume(Guid.NewGuid(), members, [1, 2], [1, 1], Chunk);

        Assert.Equal(4096, volume.BufferAlignment);
        Assert.False(volume.DeallocatedReadsZeroes);
        Assert.Equal(8192, volume.SizeBytes);
        Assert.Equal(512, volume.BlockSize);
    }

    [Fact]
    public void Members_that_disagree_or_bad_chunk_sizes_are_refused()
    {
        var size = new IBlockVolume[] { new StubVolume(8192, 512), new StubVolume(16384, 512) };
        var block = new IBlockVolume[] { new StubVolume(8192, 512), new StubVolume(8192, 4096) };
        var pair = new IBlockVolume[] { new StubVolume(8192, 512), new StubVolume(8192, 512) };

        Assert.Throws<ArgumentException>(() => new StripedVolume(Guid.Empty, size, [1, 2], [1, 1], Chunk));
        Assert.Throws<ArgumentException>(() => new StripedVolume(Guid.Empty, block, [1, 2], [1, 1], Chunk));
        Assert.Throws<ArgumentException>(() => new StripedVolume(Guid.Empty, pair, [1, 1], [1, 1], Chunk));
        Assert.Throws<ArgumentException>(() => new StripedVolume(Guid.Empty, pair, [1, 2], [1, 0], Chunk));
        Assert.Throws<ArgumentException>(() => new StripedVolume(Guid.Empty, pair, [1, 2], [1], Chunk));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StripedVolume(Guid.Empty, pair, [1, 2], [1, 1], 12288));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StripedVolume(Guid.Empty, pair, [1, 2], [1, 1], 2048));
        Assert.All(pair.Cast<StubVolume>(), m => Assert.Equal(0, m.Disposals));
    }

    [Fact]
    public void Dispose_disposes_every_member_once()
    {
        var members = new[] { new StubVolume(8192, 512), new StubVolume(8192, 512), new StubVolume(8192, 512) };
        var volume = new StripedVolume(Guid.NewGuid(), members, [1, 2, 3], [1, 1, 1], Chunk);

        volume.Dispose();
        volume.Dispose();

        Assert.All(members, m => Assert.Equal(1, m.Disposals));
    }
}

/// <summary>Striped requests that cross chunks reuse pooled state: no allocation per request.</summary>
[Collection(nameof(AllocationCollection))]
public sealed class StripedAllocationTests
{
    [Fact]
    public void StripedRequestsAcrossChunksDoNotAllocate()
    {
        // 8 KiB requests every 4 KiB over 8 KiB chunks: half of them are split between two members.
        using var volume = StripedTestVolumes.OverMemory(32L << 20, 4096, out _);
        RequestAllocation.AssertNone(volume, RequestAllocation.Mixed, requestBytes: 8192);
    }
}
