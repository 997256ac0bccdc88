namespace NovaStor.BlockEngine.Tests;

public sealed class AlignedBufferTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(512)]
    [InlineData(4096)]
    [InlineData(5000)]
    [InlineData(1 << 20)]
    public void IsPageAlignedZeroedAndOfTheRightLength(int length)
    {
        using var buffer = new AlignedBuffer(length);
        Assert.Equal(0, buffer.Address % AlignedBuffer.Alignment);
        Assert.Equal(length, buffer.Length);
        Assert.Equal(length, buffer.Span.Length);
        Assert.Equal(length, buffer.Memory.Length);
        Assert.True(buffer.Span.IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public unsafe void SpanMemoryAndAddressSeeTheSameBytes()
    {
        using var buffer = new AlignedBuffer(8192);
        buffer.Span[100] = 7;
        Assert.Equal(7, buffer.Memory.Span[100]);
        Assert.Equal(7, *(byte*)(buffer.Address + 100));
        Assert.Equal(buffer.Address + 4096, buffer.AddressAt(4096));
        Assert.Equal(buffer.Address + 8192, buffer.AddressAt(8192)); // one past the end is a valid address

        buffer.AsSpan(4096, 10).Fill(9);
        Assert.Equal(9, *(byte*)buffer.AddressAt(4100));
        Memory<byte> slice = buffer.AsMemory(4096, 4096);
        Assert.Equal(9, slice.Span[0]);
        using (System.Buffers.MemoryHandle pin = slice.Pin())
        {
            Assert.Equal(buffer.Address + 4096, (nint)pin.Pointer);
        }

        buffer.Clear();
        Assert.True(buffer.Span.IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void SlicesOutOfRangeThrow()
    {
        using var buffer = new AlignedBuffer(4096);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AddressAt(4097));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AddressAt(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsSpan(4000, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.AsMemory(1, 4096));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void NonPositiveLengthsAreRefused(int length)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new AlignedBuffer(length));

    [Fact]
    public void MemoryDoesNotAllocatePerAccess()
    {
        using var buffer = new AlignedBuffer(4096);
        _ = buffer.Memory.Slice(10, 20).Span;
        long before = GC.GetAllocatedBytesForCurrentThread();
        int sum = 0;
        for (int i = 0; i < 1000; i++)
        {
            sum += buffer.Memory.Slice(i, 8).Span[0] + buffer.Span[i] + buffer.AsMemory(0, 16).Length;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(16000, sum);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void DisposeIsIdempotentAndLaterAccessThrows()
    {
        var buffer = new AlignedBuffer(4096);
        Memory<byte> memory = buffer.Memory;
        buffer.Dispose();
        buffer.Dispose();
        Assert.True(buffer.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => buffer.Address);
        Assert.Throws<ObjectDisposedException>(() => buffer.Span.Length);
        Assert.Throws<ObjectDisposedException>(() => buffer.Memory);
        Assert.Throws<ObjectDisposedException>(() => memory.Span.Length); // a Memory handed out earlier
        Assert.Throws<ObjectDisposedException>(() => buffer.Clear());
    }

    [Fact]
    public void ConcurrentDisposeFreesOnce()
    {
        for (int round = 0; round < 200; round++)
        {
            var buffer = new AlignedBuffer(4096);
            Parallel.For(0, 4, _ => buffer.Dispose());
            Assert.True(buffer.IsDisposed);
        }
    }
}
