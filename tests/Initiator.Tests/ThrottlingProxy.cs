using System.Net;
using System.Net.Sockets;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a target that reads the host's bytes slowly: small
/// socket buffers, and a pause after every <c>burst</c> bytes relayed toward the target. The
/// host's socket send buffer fills, so its sends come back short or would block, and the rest
/// must follow in order. The target's bytes flow back freely.
/// </summary>
internal sealed class ThrottlingProxy : IAsyncDisposable
{
    private const int SmallBuffer = 16 * 1024;

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly IPEndPoint _target;
    private readonly int _burst;
    private readonly TimeSpan _pause;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _accepting;

    public ThrottlingProxy(IPEndPoint target, int burst = 256 * 1024, TimeSpan? pause = null)
    {
        _target = target;
        _burst = burst;
        _pause = pause ?? TimeSpan.FromMilliseconds(20);
        // Accepted sockets inherit the listener's receive buffer: a small window for the host.
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveBuffer, SmallBuffer);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        _accepting = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var host = await _listener.AcceptAsync(_stop.Token);
                var target = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await target.ConnectAsync(_target, _stop.Token);
                lock (_sockets)
                {
                    _sockets.Add(host);
                    _sockets.Add(target);
                }

                _ = RelayAsync(host, target, throttled: true);
                _ = RelayAsync(target, host, throttled: false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task RelayAsync(Socket from, Socket to, bool throttled)
    {
        var buffer = new byte[throttled ? 4096 : 64 * 1024];
        long sinceLastPause = 0;
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    break;
                }

                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                sinceLastPause += n;
                if (throttled && sinceLastPause >= _burst)
                {
                    sinceLastPause = 0;
                    await Task.Delay(_pause, _stop.Token);
                }
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
        await _stop.CancelAsync();
        _listener.Dispose();
        lock (_sockets)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }
        }

        await _accepting;
        _stop.Dispose();
    }
}
