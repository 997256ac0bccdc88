using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Volume {Path}: created a thin file of {SizeBytes} bytes")]
    public static partial void Created(ILogger logger, string path, long sizeBytes);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "Volume {Path}: the file exists with {ActualBytes} bytes; it keeps its size (requested {RequestedBytes} bytes applies only at creation)")]
    public static partial void ExistingSizeDiffers(ILogger logger, string path, long actualBytes, long requestedBytes);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information,
        Message = "Volume {Path}: opened, {SizeBytes} bytes, block size {BlockSize}, direct I/O {DirectIo}, buffer alignment {BufferAlignment}, deallocated reads zeroes {DeallocatedReadsZeroes}")]
    public static partial void Opened(ILogger logger, string path, long sizeBytes, int blockSize, bool directIo, int bufferAlignment, bool deallocatedReadsZeroes);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning,
        Message = "Volume {Path}: using buffered I/O instead of O_DIRECT ({Reason}); durability still holds through fdatasync and RWF_DSYNC, but reads and writes go through the page cache")]
    public static partial void BufferedFallback(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information,
        Message = "Volume {Path}: the filesystem does not support fallocate {Mode}; {Operation} falls back to writing zeroes")]
    public static partial void FallocateUnsupported(ILogger logger, string path, string mode, string operation);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information,
        Message = "Volume {Path}: pwritev2(RWF_DSYNC) unavailable ({Error}); FUA writes use pwrite then fdatasync")]
    public static partial void DsyncWriteUnsupported(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information,
        Message = "Volume {Path}: opened the block device, {DeviceBytes} bytes, volume {SizeBytes} bytes, block size {BlockSize}, logical block size {LogicalBlockSize}, direct I/O alignment {DioOffsetAlign}, buffer alignment {BufferAlignment}, direct I/O {DirectIo}")]
    public static partial void DeviceOpened(ILogger logger, string path, long deviceBytes, long sizeBytes, int blockSize, int logicalBlockSize, int dioOffsetAlign, int bufferAlignment, bool directIo);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information,
        Message = "Volume {Path}: the device does not support discard (BLKDISCARD); Deallocate completes without effect (deallocated ranges are not promised to read zeroes on devices)")]
    public static partial void DiscardUnsupported(ILogger logger, string path);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning,
        Message = "Volume {Name}: {Count} request(s) still running after {Wait}; its resources are released when the last one finishes")]
    public static partial void DisposeTimedOut(ILogger logger, string name, int count, TimeSpan wait);

    [LoggerMessage(EventId = 11, Level = LogLevel.Error,
        Message = "Volume {Name}: {Operation} at {Offset} length {Length} threw; completed with EIO")]
    public static partial void ExecuteThrew(ILogger logger, string name, BlockOperation operation, long offset, long length, Exception exception);

    [LoggerMessage(EventId = 12, Level = LogLevel.Error,
        Message = "Volume {Name}: the completion callback for request {UserData} threw; the exception was swallowed to protect the thread pool")]
    public static partial void CompletionThrew(ILogger logger, string name, ulong userData, Exception exception);

    [LoggerMessage(EventId = 13, Level = LogLevel.Error,
        Message = "Volume {Name}: releasing resources failed")]
    public static partial void ReleaseFailed(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning,
        Message = "Volume {Path}: close failed: {Error}")]
    public static partial void CloseFailed(ILogger logger, string path, string error);
}
