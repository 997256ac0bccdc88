using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine.Aio;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine;

/// <summary>Which engine runs a process's volumes.</summary>
public enum EngineKind
{
    /// <summary>io_uring reactors where the kernel allows them, else Linux native AIO, else the positional engine.</summary>
    Auto,
    /// <summary>io_uring reactors; refusing to start where io_uring is unavailable.</summary>
    IoUring,
    /// <summary>Positional I/O (pread/pwrite) on the thread pool, whatever the kernel offers.</summary>
    Fallback,
    /// <summary>Linux native AIO (io_submit on O_DIRECT files and devices); refusing to start where it is unavailable.</summary>
    Aio,
}

/// <summary>
/// Chooses the engine once per process, says which one runs and why, and opens volumes on it.
/// io_uring is refused by default container seccomp profiles (Docker 25.0.4+, containerd 2.0), by
/// kernel.io_uring_disabled and by old kernels; those profiles still allow Linux native AIO, so
/// Auto falls back to it, and to positional I/O only where AIO is refused too. A file that cannot
/// be opened with O_DIRECT (tmpfs) is served positionally on the AIO engine, where AIO would block.
/// Dispose after every volume it opened.
/// </summary>
public sealed partial class BlockEngineHost : IDisposable
{
    /// <summary>What an operator can do about io_uring being refused, named in the log.</summary>
    public const string IoUringFix =
        "to use io_uring in a container, run it with the seccomp profile deploy/seccomp-novastor.json (it allows io_uring_setup, io_uring_enter and io_uring_register), or set kernel.io_uring_disabled=0 on the host";

    /// <summary>Requests each AIO context holds in flight: 8 queues of 128 commands per reactor before any waits.</summary>
    private const int AioCapacity = 1024;

    private readonly ReactorPool? _reactors;
    private readonly AioReactorPool? _aio;
    // The positional engine's one lane: every queue shares its bounded command buffers.
    private readonly EngineLane? _positional;
    private readonly ILogger _logger;

    private BlockEngineHost(EngineKind active, string reason, ReactorPool? reactors, AioReactorPool? aio, ILogger logger, long commandBufferBytes = 0)
    {
        Active = active;
        Reason = reason;
        _reactors = reactors;
        _aio = aio;
        _logger = logger;
        if (reactors is null && aio is null)
        {
            int chunk = ReactorPoolOptions.CommandBufferChunkBytes;
            _positional = new EngineLane(new CommandBufferPool(chunk, (int)Math.Max(1, commandBufferBytes / chunk)));
        }
    }

    /// <summary>The engine that runs: <see cref="EngineKind.IoUring"/>, <see cref="EngineKind.Aio"/> or <see cref="EngineKind.Fallback"/>.</summary>
    public EngineKind Active { get; }

    /// <summary>Why this engine runs, for the log and for operators.</summary>
    public string Reason { get; }

    /// <summary>Reactors of the active engine (io_uring or AIO), 0 on the positional engine.</summary>
    public int ReactorCount => _reactors?.Count ?? _aio?.Count ?? 0;

    /// <param name="requested">The engine asked for; Auto chooses.</param>
    /// <param name="reactorOptions">Reactor count, pinning and io_uring knobs; AIO uses the count, pinning, poll and stop wait.</param>
    /// <param name="logger">Where the choice and its reason are logged.</param>
    /// <param name="ioUringProbe">How io_uring support is probed (tests replace it to play a refusing kernel).</param>
    /// <exception cref="InvalidOperationException">The engine required cannot be set up here.</exception>
    public static BlockEngineHost Create(EngineKind requested, ReactorPoolOptions? reactorOptions = null, ILogger? logger = null,
        IoUringProbe? ioUringProbe = null)
    {
        logger ??= NullLogger.Instance;
        var options = reactorOptions ?? new ReactorPoolOptions();
        ioUringProbe ??= IoUringFileVolume.IsSupported;
        BlockEngineHost host = requested switch
        {
            EngineKind.Fallback => new BlockEngineHost(EngineKind.Fallback, "the fallback engine was selected in configuration", null, null, logger, options.CommandBufferBytes),
            EngineKind.Aio => CreateAio(options, "selected in configuration", logger),
            _ => CreateIoUringOrBelow(requested, options, ioUringProbe, logger),
        };

        string engine = host.Active switch
        {
            EngineKind.IoUring => $"io_uring reactors ({host.ReactorCount})",
            EngineKind.Aio => $"Linux native AIO ({host.ReactorCount} reactors)",
            _ => "positional I/O on the thread pool",
        };
        EngineChosen(logger, engine, host.Reason);
        return host;
    }

    /// <summary>Opens or creates (thin) a file-backed volume on the active engine.</summary>
    public IBlockVolume OpenOrCreate(string path, long sizeBytes, int blockSize)
    {
        if (_reactors is not null)
        {
            return IoUringFileVolume.OpenOrCreate(path, sizeBytes, blockSize, _reactors, _logger);
        }

        FileVolume file = FileVolume.OpenOrCreate(path, sizeBytes, blockSize, _logger);
        if (_aio is null)
        {
            return file;
        }

        if (!file.UsesDirectIo)
        {
            AioLog.NoDirectIo(_logger, file.FilePath);
            return file;
        }

        return AioFileVolume.Create(file, _aio, _logger);
    }

    /// <summary>
    /// A lane for one queue (see <see cref="EngineLane"/>): the next reactor, round robin, on the
    /// io_uring or AIO engine; on the positional engine its one lane (no reactor; the process's
    /// bounded command buffers).
    /// </summary>
    public EngineLane AcquireLane() => _reactors?.AcquireLane() ?? _aio?.AcquireLane() ?? _positional!;

    public void Dispose()
    {
        _reactors?.Dispose();
        _aio?.Dispose();
        _positional?.CommandBuffers?.Dispose();
    }

    private static BlockEngineHost CreateIoUringOrBelow(EngineKind requested, ReactorPoolOptions options, IoUringProbe probe, ILogger logger)
    {
        if (probe(out string refused))
        {
            var reactors = new ReactorPool(options, logger);
            return new BlockEngineHost(EngineKind.IoUring, requested == EngineKind.IoUring ? "selected in configuration" : "io_uring is available", reactors, null, logger);
        }

        if (requested == EngineKind.IoUring)
        {
            throw new InvalidOperationException($"The io_uring engine was required but io_uring cannot be used here: {refused}; {IoUringFix}.");
        }

        string why = $"io_uring is unavailable ({refused})";
        IoUringRefused(logger, refused, IoUringFix);
        if (!AioReactor.IsSupported(out string aioRefused))
        {
            return new BlockEngineHost(EngineKind.Fallback, $"{why}, and Linux native AIO too ({aioRefused})", null, null, logger, options.CommandBufferBytes);
        }

        try
        {
            return CreateAio(options, $"{why}; fell back to Linux native AIO ({IoUringFix})", logger);
        }
        catch (InvalidOperationException e)
        {
            return new BlockEngineHost(EngineKind.Fallback, $"{why}, and Linux native AIO too ({e.Message})", null, null, logger, options.CommandBufferBytes);
        }
    }

    private static BlockEngineHost CreateAio(ReactorPoolOptions options, string reason, ILogger logger)
    {
        try
        {
            var pool = new AioReactorPool(options.Count, AioCapacity, options.PinThreads, options.StopWait, logger, options.PollMicroseconds, options.CommandBufferBytes);
            return new BlockEngineHost(EngineKind.Aio, reason, null, pool, logger);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"The Linux native AIO engine cannot be set up: {e.Message}", e);
        }
    }

    [LoggerMessage(EventId = 60, Level = LogLevel.Information, Message = "Block engine: {Engine}; {Reason}")]
    private static partial void EngineChosen(ILogger logger, string engine, string reason);

    [LoggerMessage(EventId = 61, Level = LogLevel.Warning, Message = "io_uring is unavailable: {Refused}; {Fix}")]
    private static partial void IoUringRefused(ILogger logger, string refused, string fix);
}

/// <summary>Whether io_uring can be used here, and if not why (<see cref="IoUringFileVolume.IsSupported"/>).</summary>
public delegate bool IoUringProbe(out string reason);
