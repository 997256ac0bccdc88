using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine.Aio;

internal static partial class AioLog
{
    [LoggerMessage(EventId = 70, Level = LogLevel.Information,
        Message = "AIO reactor {Name}: started, Linux native AIO context for {Capacity} requests in flight")]
    public static partial void Started(ILogger logger, string name, int capacity);

    [LoggerMessage(EventId = 71, Level = LogLevel.Information, Message = "AIO reactor {Name}: pinned to CPU {Cpu}")]
    public static partial void Pinned(ILogger logger, string name, int cpu);

    [LoggerMessage(EventId = 72, Level = LogLevel.Warning, Message = "AIO reactor {Name}: pinning failed ({Error}); the thread runs unpinned")]
    public static partial void PinFailed(ILogger logger, string name, string error);

    [LoggerMessage(EventId = 73, Level = LogLevel.Error,
        Message = "AIO reactor {Name}: a handler threw; the exception was swallowed to keep the reactor running")]
    public static partial void HandlerThrew(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = 74, Level = LogLevel.Critical, Message = "AIO reactor {Name}: the loop failed; requests in flight are abandoned")]
    public static partial void LoopFailed(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = 75, Level = LogLevel.Warning,
        Message = "AIO reactor {Name}: {Count} operation(s) still in flight after {Wait}; stopping anyway")]
    public static partial void StopTimedOut(ILogger logger, string name, int count, TimeSpan wait);

    [LoggerMessage(EventId = 76, Level = LogLevel.Information, Message = "Volume {Path}: Linux native AIO engine on {Reactors} reactor(s)")]
    public static partial void VolumeOpened(ILogger logger, string path, int reactors);

    [LoggerMessage(EventId = 77, Level = LogLevel.Warning,
        Message = "Volume {Path}: O_DIRECT is not possible here, so Linux native AIO would run synchronously; the volume uses positional I/O on the thread pool")]
    public static partial void NoDirectIo(ILogger logger, string path);

    [LoggerMessage(EventId = 78, Level = LogLevel.Information,
        Message = "Volume {Path}: this kernel's AIO has no FDSYNC ({Error}); Flush runs fdatasync on the AIO worker")]
    public static partial void NoAioFdsync(ILogger logger, string path, string error);
}
