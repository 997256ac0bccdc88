using NovaStor.BlockEngine.Aio;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine.Tests;

/// <summary>Which engine <see cref="BlockEngineHost"/> picks, and what it says about it.</summary>
public sealed class BlockEngineHostTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static bool Refused(out string reason)
    {
        reason = "io_uring_setup failed with EPERM (Operation not permitted)";
        return false;
    }

    [Fact]
    public async Task AutoFallsBackToNativeAioWhereIoUringIsRefusedAndSaysHowToFixIt()
    {
        var logger = new ListLogger();
        using var engine = BlockEngineHost.Create(EngineKind.Auto, new ReactorPoolOptions { Count = 2 }, logger, Refused);
        Assert.Equal(EngineKind.Aio, engine.Active);
        Assert.Equal(2, engine.ReactorCount);
        Assert.Contains("io_uring is unavailable (io_uring_setup failed with EPERM", engine.Reason, StringComparison.Ordinal);
        Assert.Contains("deploy/seccomp-novastor.json", engine.Reason, StringComparison.Ordinal);
        Assert.True(logger.Contains("Block engine: Linux native AIO (2 reactors)"), "the engine choice was not logged");

        using IBlockVolume volume = engine.OpenOrCreate(_directory.File("auto.img"), 1L << 20, 4096);
        Assert.IsType<AioFileVolume>(volume);
        EngineLane lane = engine.AcquireLane();
        Assert.NotNull(lane.AioReactor);
        using var buffer = lane.RentBuffer(4096);
        buffer.Span.Fill(7);
        Assert.Equal(0, await volume.SubmitAsync(new BlockRequest(BlockOperation.Write, 8192, 4096, buffer.Address, Lane: lane)));
        byte[] written = buffer.Span.ToArray();
        Assert.Equal(written, await volume.ReadBytesAsync(8192, 4096));
    }

    [Fact]
    public void ThePositionalEngineBoundsTheCommandBuffersOfAllItsQueuesTogether()
    {
        using var engine = BlockEngineHost.Create(EngineKind.Fallback, new ReactorPoolOptions { CommandBufferBytes = 1L << 20 });
        Assert.Equal(EngineKind.Fallback, engine.Active);
        EngineLane first = engine.AcquireLane(), second = engine.AcquireLane();
        Assert.Null(first.Reactor);
        Assert.Null(first.AioReactor);
        Assert.Equal("positional", first.Name);
        var pool = Assert.IsType<CommandBufferPool>(first.CommandBuffers);
        Assert.Same(pool, second.CommandBuffers);
        Assert.Equal((ReactorPoolOptions.CommandBufferChunkBytes, 8), (pool.BufferBytes, pool.MaxBuffers));
    }

    [Fact]
    public void RequiringIoUringWhereItIsRefusedFailsWithTheFix()
    {
        var e = Assert.Throws<InvalidOperationException>(() => BlockEngineHost.Create(EngineKind.IoUring, null, null, Refused));
        Assert.Contains("EPERM", e.Message, StringComparison.Ordinal);
        Assert.Contains("deploy/seccomp-novastor.json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AutoPicksIoUringWhereTheKernelAllowsIt()
    {
        Assert.True(IoUringFileVolume.IsSupported(out string reason), reason);
        using var engine = BlockEngineHost.Create(EngineKind.Auto);
        Assert.Equal(EngineKind.IoUring, engine.Active);
        using IBlockVolume volume = engine.OpenOrCreate(_directory.File("uring.img"), 1L << 20, 4096);
        Assert.IsType<IoUringFileVolume>(volume);
    }

    [Fact]
    public void OnTheAioEngineAFileWithoutDirectIoIsServedPositionallyAndSaysSo()
    {
        Assert.True(Directory.Exists("/dev/shm"), "no tmpfs at /dev/shm to play a filesystem without O_DIRECT");
        using var shm = new TempDirectory("/dev/shm");
        var logger = new ListLogger();
        using var engine = BlockEngineHost.Create(EngineKind.Aio, null, logger);
        Assert.Equal(EngineKind.Aio, engine.Active);
        using IBlockVolume volume = engine.OpenOrCreate(shm.File("tmpfs.img"), 1L << 20, 4096);
        Assert.IsType<FileVolume>(volume);
        Assert.True(logger.Contains("O_DIRECT is not possible here"), "the positional fallback was not logged");
    }
}
