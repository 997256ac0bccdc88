namespace NovaStor.BlockEngine.Tests;

/// <summary>
/// MemoryVolume specifics beyond the shared behavioural suite: large writes take the streaming
/// (non-temporal) copy, whose whole 128-byte steps and byte tail must both land exactly.
/// </summary>
public sealed class MemoryVolumeTests
{
    [Theory]
    [InlineData(64 * 1024)]            // the smallest streamed write
    [InlineData(128 * 1024)]           // a whole MDTS transfer
    [InlineData((128 * 1024) + 512)]   // whole 128-byte steps and a tail (512-byte blocks)
    [InlineData((64 * 1024) - 512)]    // just below the threshold: an ordinary copy
    public async Task Large_writes_read_back_exactly_and_leave_their_neighbours_alone(int length)
    {
        using var volume = new MemoryVolume(4 << 20, 512);
        byte[] neighbours = new byte[length + 1024];
        new Random(length).NextBytes(neighbours);
        await volume.WriteBytesAsync(1 << 20, neighbours);

        byte[] data = new byte[length];
        new Random(length + 1).NextBytes(data);
        await volume.WriteBytesAsync((1 << 20) + 512, data);

        byte[] back = await volume.ReadBytesAsync(1 << 20, length + 1024);
        Assert.True(back.AsSpan(0, 512).SequenceEqual(neighbours.AsSpan(0, 512)), "the block before the write changed");
        Assert.True(back.AsSpan(512, length).SequenceEqual(data), "the write did not land exactly");
        Assert.True(back.AsSpan(512 + length).SequenceEqual(neighbours.AsSpan(512 + length)), "the block after the write changed");
    }
}
