using System.Net;
using System.Net.Sockets;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a target. While frozen it keeps every connection open
/// but stops relaying the target's bytes: a controller that is reachable and silent.
/// </summary>
internal sealed class FreezingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _accepting;
    private volatile TaskCompletionSource _thawed = Thawed();

    public FreezingProxy(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public void Freeze() => _thawed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Thaw() => _thawed.TrySetResult();

    private static TaskCompletionSource Thawed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var host = await _listener.AcceptSocketAsync(_stop.Token);
                var target = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await target.ConnectAsync(_target, _stop.Token);
                lock (_sockets)
                {
                    _sockets.Add(host);
                    _sockets.Add(target);
                }

                _ = RelayAsync(host, target, gated: false);
                _ = RelayAsync(target, host, gated: true);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task RelayAsync(Socket from, Socket to, bool gated)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    break;
                }

                if (gated)
                {
                    await _thawed.Task.WaitAsync(_stop.Token);
                }

                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
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
        _listener.Stop();
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
