using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace NovaStor.Target.Transport;

/// <summary>
/// The NVMe/TCP listening socket when queues run on io_uring reactors. Accepting is not on the data
/// path: it runs on the thread pool, and each accepted socket is handed to Kestrel as a
/// <see cref="ReactorConnection"/>; the connection handler binds it to a reactor.
/// </summary>
internal sealed class ReactorConnectionListener : IConnectionListener
{
    private readonly Socket _listener;

    private ReactorConnectionListener(Socket listener)
    {
        _listener = listener;
        EndPoint = listener.LocalEndPoint!;
    }

    public EndPoint EndPoint { get; }

    public static ReactorConnectionListener Bind(IPEndPoint endPoint)
    {
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }

            listener.Bind(endPoint);
            listener.Listen(512);
            return new ReactorConnectionListener(listener);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            listener.Dispose();
            throw new AddressInUseException(ex.Message, ex);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException || (ex is SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted }))
            {
                return null; // unbound: Kestrel's accept loop ends
            }
            catch (SocketException)
            {
                continue; // the peer gave up while it was being accepted: take the next one
            }

            socket.NoDelay = true;
            return new ReactorConnection(socket);
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }
}
