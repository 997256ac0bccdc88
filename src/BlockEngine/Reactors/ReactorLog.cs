using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine.Reactors;

internal static partial class ReactorLog
{
    [LoggerMessage(EventId = 40, Level = LogLevel.Information,
        Message = "Reactor {Name}: started, io_uring with {Entries} entries, setup flags {SetupFlags}")]
    public static partial void Started(ILogger logger, string name, uint entries, string setupFlags);

    [LoggerMessage(EventId = 41, Level = LogLevel.Information,
        Message = "Reactor {Name}: pinned to CPU {Cpu}")]
    public static partial void Pinned(ILogger logger, string name, int cpu);

    [LoggerMessage(EventId = 42, Level = LogLevel.Warning,
        Message = "Reactor {Name}: pinning failed ({Error}); the thread runs unpinned")]
    public static partial void PinFailed(ILogger logger, string name, string error);

    [LoggerMessage(EventId = 43, Level = LogLevel.Error,
        Message = "Reactor {Name}: a completion handler threw; the exception was swallowed to keep the reactor running")]
    public static partial void HandlerThrew(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = 44, Level = LogLevel.Critical,
        Message = "Reactor {Name}: the loop failed; requests still queued complete with ECANCELED")]
    public static partial void LoopFailed(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = 45, Level = LogLevel.Warning,
        Message = "Reactor {Name}: {Count} operation(s) still in flight after {Wait}; the ring is closed anyway (the kernel cancels them)")]
    public static partial void StopTimedOut(ILogger logger, string name, int count, TimeSpan wait);

    [LoggerMessage(EventId = 46, Level = LogLevel.Information,
        Message = "Volume {Path}: io_uring engine on {Reactors} reactor(s)")]
    public static partial void VolumeOpened(ILogger logger, string path, int reactors);

    [LoggerMessage(EventId = 47, Level = LogLevel.Information,
        Message = "Volume {Path}: io_uring fallocate {Mode} is not supported here; {Operation} falls back to the synchronous path")]
    public static partial void FallocateFallback(ILogger logger, string path, string mode, string operation);

    [LoggerMessage(EventId = 48, Level = LogLevel.Information,
        Message = "Reactor {Name}: {Chunks} buffers of {ChunkBytes} bytes registered with the ring (READ_FIXED/WRITE_FIXED)")]
    public static partial void BuffersRegistered(ILogger logger, string name, int chunks, int chunkBytes);

    [LoggerMessage(EventId = 49, Level = LogLevel.Warning,
        Message = "Reactor {Name}: registering buffers was refused ({Reason}); I/O runs with plain reads and writes")]
    public static partial void BuffersNotRegistered(ILogger logger, string name, string reason);
}
