using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace NovaStor.Target.Transport;

/// <summary>
/// A listener added while the target runs (the control plane). Kestrel binds only the endpoints it
/// was configured with at start, so this runs the accept loop Kestrel runs for those: each
/// accepted connection goes to the NVMe/TCP connection handler, and stopping unbinds, aborts the
/// connections still open and waits (bounded) for them. After a restart the listener is one of
/// Kestrel's own (it is stored with the exports).
/// </summary>
internal sealed partial class RuntimeListener
{
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(5);

    private readonly IConnectionListener _listener;
    private readonly ConnectionHandler _handler;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ConnectionContext, Task> _connections = new();
    private readonly Task _acceptLoop;

    public RuntimeListener(IConnectionListener listener, ConnectionHandler handler, ILogger logger)
    {
        _listener = listener;
        _handler = handler;
        _logger = logger;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            ConnectionContext? connection;
            try
            {
                connection = await _listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            if (connection is null)
            {
                return; // unbound
            }

            // Registered before it runs: a connection that ends at once must find its entry to remove.
            var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _connections[connection] = RunAsync(connection, registered.Task);
            registered.SetResult();
        }
    }

    private async Task RunAsync(ConnectionContext connection, Task registered)
    {
        await registered.ConfigureAwait(false);
        try
        {
            await _handler.OnConnectedAsync(connection).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            ConnectionFailed(_logger, connection.ConnectionId, e);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            _connections.TryRemove(connection, out _);
        }
    }

    /// <summary>Stops accepting, aborts what is still connected and waits for it, at most a few seconds.</summary>
    public async Task StopAsync()
    {
        await _listener.UnbindAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        foreach (var connection in _connections.Keys)
        {
            connection.Abort(new ConnectionAbortedException("The listener was removed."));
        }

        try
        {
            await Task.WhenAll(_connections.Values).WaitAsync(StopWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            StopTimedOut(_logger, _connections.Count);
        }

        await _listener.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(41, LogLevel.Error, "Connection {ConnectionId} on a listener added at runtime failed")]
    private static partial void ConnectionFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(42, LogLevel.Warning, "{Count} connection(s) of a removed listener were still closing after 5 s")]
    private static partial void StopTimedOut(ILogger logger, int count);
}
