using System.Net;
using System.Net.Sockets;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a target: every accepted host connection gets its own
/// connection to the target, and bytes are pumped both ways. A derived relay decides how bytes
/// flow (<see cref="BeforeRelayAsync"/>) and may shrink the host side's socket buffers.
/// </summary>
internal abstract class LoopbackRelay : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly IPEndPoint _target;
    private readonly List<Socket> _sockets = [];
    private readonly Task _accepting;

    /// <param name="hostReceiveBuffer">SO_RCVBUF of the host's side (accepted sockets inherit it), or 0 for the default.</param>
    protected LoopbackRelay(IPEndPoint target, int hostReceiveBuffer = 0)
    {
        _target = target;
        if (hostReceiveBuffer > 0)
        {
            _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveBuffer, hostReceiveBuffer);
        }

        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        _accepting = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    protected CancellationTokenSource Stopping { get; } = new();

    /// <summary>Called with each chunk before it is relayed; <paramref name="towardTarget"/> says the direction.</summary>
    protected abstract ValueTask BeforeRelayAsync(bool towardTarget, ReadOnlyMemory<byte> chunk);

    /// <summary>Called once a chunk has been relayed.</summary>
    protected virtual void AfterRelay(bool towardTarget)
    {
    }

    /// <summary>Ends every relayed connection at once, both sides, as a target that hangs up.</summary>
    protected void CloseAll()
    {
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Read size of the pump in one direction.</summary>
    protected virtual int ChunkBytes(bool towardTarget) => 64 * 1024;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var host = await _listener.AcceptAsync(Stopping.Token);
                var target = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await target.ConnectAsync(_target, Stopping.Token);
                lock (_sockets)
                {
                    _sockets.Add(host);
                    _sockets.Add(target);
                }

                _ = RelayAsync(host, target, towardTarget: true);
                _ = RelayAsync(target, host, towardTarget: false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task RelayAsync(Socket from, Socket to, bool towardTarget)
    {
        var buffer = new byte[ChunkBytes(towardTarget)];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, Stopping.Token);
                if (n == 0)
                {
                    break;
                }

                await BeforeRelayAsync(towardTarget, buffer.AsMemory(0, n));
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, Stopping.Token);
                AfterRelay(towardTarget);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        try
        {
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Stopping.CancelAsync();
        _listener.Dispose();
        CloseAll();

        await _accepting;
        Stopping.Dispose();
    }
}
