namespace NovaStor.BlockEngine.Reactors;

/// <summary>
/// A connected stream descriptor (a TCP connection) whose receives, sends and messages run on one
/// <see cref="Reactor"/>: every callback below is called on that reactor's thread, never
/// concurrently and never re-entered from inside another of them. The reactor knows nothing of
/// what the bytes mean; the stream owns its buffers and keeps them valid while an operation is in
/// flight.
/// </summary>
public interface IReactorStream
{
    /// <summary>A <see cref="Reactor.Receive"/> finished: bytes received, 0 at end of stream, or -errno.</summary>
    void OnReceived(int result);

    /// <summary>A <see cref="Reactor.Send"/> finished: bytes sent (perhaps fewer than the list held), or -errno.</summary>
    void OnSent(int result);

    /// <summary>A message from <see cref="Reactor.Post(IReactorStream, ulong)"/>.</summary>
    void OnPosted(ulong message);

    /// <summary>
    /// Asked for with <see cref="Reactor.RequestBeforeSubmit"/>: runs once, after this iteration's
    /// completions were delivered and before the reactor enters the kernel, so that a stream can
    /// send everything it produced in the iteration as one operation.
    /// </summary>
    void BeforeSubmit();
}
