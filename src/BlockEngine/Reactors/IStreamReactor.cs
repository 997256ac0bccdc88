namespace NovaStor.BlockEngine.Reactors;

/// <summary>
/// A reactor thread that runs connected streams to completion: receives, sends and messages for an
/// <see cref="IReactorStream"/>, every callback on the reactor's own thread. The io_uring
/// <see cref="Reactor"/> does it with ring operations; the native AIO reactor
/// (<see cref="Aio.AioReactor"/>) with epoll and non-blocking sockets, where io_uring is refused.
/// </summary>
public interface IStreamReactor
{
    /// <summary>The thread name, for logs.</summary>
    string Name { get; }

    /// <summary>True on the reactor's own thread.</summary>
    bool IsCurrentThread { get; }

    /// <summary>
    /// Receives up to <paramref name="length"/> bytes (with <paramref name="waitAll"/>: all of them,
    /// or fewer only at the end of the stream); <see cref="IReactorStream.OnReceived"/> gets the result.
    /// On the reactor's thread only. False once the reactor has stopped (no callback then).
    /// </summary>
    bool Receive(IReactorStream stream, int fd, nint buffer, int length, bool waitAll = false);

    /// <summary>
    /// Sends the unsent pieces of <paramref name="pieces"/> with one sendmsg; <see cref="IReactorStream.OnSent"/>
    /// gets the bytes sent. On the reactor's thread only. False once the reactor has stopped.
    /// </summary>
    bool Send(IReactorStream stream, int fd, GatherList pieces);

    /// <summary>Delivers <paramref name="message"/> to <see cref="IReactorStream.OnPosted"/> on the reactor thread, from any thread.</summary>
    bool Post(IReactorStream stream, ulong message);

    /// <summary>Calls <see cref="IReactorStream.BeforeSubmit"/> once this iteration's completions were delivered. Reactor thread only.</summary>
    void RequestBeforeSubmit(IReactorStream stream);
}
