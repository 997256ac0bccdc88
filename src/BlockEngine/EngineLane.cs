using NovaStor.BlockEngine.Aio;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine;

/// <summary>
/// Where one submitter's requests run: a queue of the target takes a lane when it opens, rents its
/// command buffers from it, and puts it on every <see cref="BlockRequest"/>. On the io_uring engine
/// a lane is one reactor, so a queue's I/O stays on one ring (no cross-ring ordering, no shared
/// state between queues) and its buffers are that ring's registered memory. On the native AIO engine
/// a lane is one AIO reactor (its completions come back on one thread) and buffers are plain. On the
/// positional engine, or for <see cref="Unbound"/>, requests go wherever the volume sends them.
/// </summary>
public sealed class EngineLane
{
    private EngineLane()
    {
    }

    internal EngineLane(Reactor reactor)
    {
        Reactor = reactor;
    }

    internal EngineLane(AioReactor reactor)
    {
        AioReactor = reactor;
    }

    /// <summary>The positional engine's lane: no reactor, but the process's bounded command buffers.</summary>
    internal EngineLane(CommandBufferPool commandBuffers)
    {
        _commandBuffers = commandBuffers;
    }

    private readonly CommandBufferPool? _commandBuffers;

    /// <summary>No binding: the volume picks where requests run; buffers are plain aligned memory.</summary>
    public static EngineLane Unbound { get; } = new();

    /// <summary>
    /// The reactor requests run on, or null when unbound. A target queue bound to this lane also
    /// runs its socket on it (run to completion: one thread per queue).
    /// </summary>
    public Reactor? Reactor { get; }

    /// <summary>The reactor a target queue bound to this lane runs its socket on (io_uring or AIO), or null.</summary>
    public IStreamReactor? StreamReactor => (IStreamReactor?)Reactor ?? AioReactor;

    /// <summary>The native AIO reactor requests run on (the AIO engine), or null.</summary>
    public AioReactor? AioReactor { get; }

    /// <summary>The reactor's name ("novastor-reactor-N", "novastor-aio-N"), or "positional" / "unbound", for logs.</summary>
    public string Name => Reactor?.Name ?? AioReactor?.Name ?? (_commandBuffers is null ? "unbound" : "positional");

    /// <summary>
    /// The bounded command data buffers of this lane's reactor (shared by the queues on it), or of the
    /// positional engine (shared by every queue of the process); null for <see cref="Unbound"/>: such
    /// a queue allocates its buffers (<see cref="RentBuffer"/>).
    /// </summary>
    public CommandBufferPool? CommandBuffers => Reactor?.CommandBuffers ?? AioReactor?.CommandBuffers ?? _commandBuffers;

    /// <summary>
    /// A zeroed buffer of <paramref name="length"/> bytes: registered memory of this lane's reactor
    /// while it has some left, plain aligned memory otherwise. Dispose returns it.
    /// </summary>
    public AlignedBuffer RentBuffer(int length)
        => Reactor?.Buffers?.TryRent(length) ?? new AlignedBuffer(length);

    /// <summary>True when <paramref name="buffer"/> is memory registered with this lane's ring.</summary>
    public bool IsRegistered(AlignedBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return Reactor?.Buffers is { IsRegistered: true } pool && pool.Contains(buffer.Address, buffer.Length);
    }
}
