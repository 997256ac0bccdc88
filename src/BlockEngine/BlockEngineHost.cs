using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine;

/// <summary>Which engine runs a process's volumes.</summary>
public enum EngineKind
{
    /// <summary>io_uring reactors where the kernel allows them, the positional engine otherwise.</summary>
    Auto,
    /// <summary>io_uring reactors; refusing to start where io_uring is unavailable.</summary>
    IoUring,
    /// <summary>Positional I/O (pread/pwrite) on the thread pool, whatever the kernel offers.</summary>
    Fallback,
}

/// <summary>
/// Chooses the engine once per process, says which one runs and why, and opens volumes on it.
/// io_uring is refused by default container seccomp profiles, by kernel.io_uring_disabled and by
/// old kernels: Auto then falls back by itself. Dispose after every volume it opened.
/// </summary>
public sealed partial class BlockEngineHost : IDisposable
{
    private readonly ReactorPool? _reactors;
    private readonly ILogger _logger;

    private BlockEngineHost(EngineKind active, string reason, ReactorPool? reactors, ILogger logger)
    {
        Active = active;
        Reason = reason;
        _reactors = reactors;
        _logger = logger;
    }

    /// <summary>The engine that runs: <see cref="EngineKind.IoUring"/> or <see cref="EngineKind.Fallback"/>.</summary>
    public EngineKind Active { get; }

    /// <summary>Why this engine runs, for the log and for operators.</summary>
    public string Reason { get; }

    /// <exception cref="InvalidOperationException">io_uring was required and cannot be set up.</exception>
    public static BlockEngineHost Create(EngineKind requested, ReactorPoolOptions? reactorOptions = null, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        BlockEngineHost host;
        if (requested == EngineKind.Fallback)
        {
            host = new BlockEngineHost(EngineKind.Fallback, "the fallback engine was selected in configuration", null, logger);
        }
        else if (!IoUringFileVolume.IsSupported(out string refused))
        {
            if (requested == EngineKind.IoUring)
            {
                throw new InvalidOperationException($"The io_uring engine was required but io_uring cannot be used here: {refused}");
            }

            host = new BlockEngineHost(EngineKind.Fallback, $"io_uring is unavailable ({refused})", null, logger);
        }
        else
        {
            var options = reactorOptions ?? new ReactorPoolOptions();
            var reactors = new ReactorPool(options, logger);
            host = new BlockEngineHost(EngineKind.IoUring, requested == EngineKind.IoUring ? "selected in configuration" : "io_uring is available", reactors, logger);
        }

        EngineChosen(logger, host.Active == EngineKind.IoUring ? $"io_uring reactors ({host._reactors!.Count})" : "positional I/O on the thread pool", host.Reason);
        return host;
    }

    /// <summary>Opens or creates (thin) a file-backed volume on the active engine.</summary>
    public IBlockVolume OpenOrCreate(string path, long sizeBytes, int blockSize) => _reactors is null
        ? FileVolume.OpenOrCreate(path, sizeBytes, blockSize, _logger)
        : IoUringFileVolume.OpenOrCreate(path, sizeBytes, blockSize, _reactors, _logger);

    /// <summary>
    /// A lane for one queue (see <see cref="EngineLane"/>): the next reactor, round robin, on the
    /// io_uring engine; <see cref="EngineLane.Unbound"/> on the fallback engine.
    /// </summary>
    public EngineLane AcquireLane() => _reactors?.AcquireLane() ?? EngineLane.Unbound;

    public void Dispose() => _reactors?.Dispose();

    [LoggerMessage(EventId = 60, Level = LogLevel.Information, Message = "Block engine: {Engine}; {Reason}")]
    private static partial void EngineChosen(ILogger logger, string engine, string reason);
}
