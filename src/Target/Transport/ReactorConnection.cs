using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace NovaStor.Target.Transport;

/// <summary>The accepted socket of a connection whose bytes move on an io_uring reactor, not through pipes.</summary>
internal sealed record ReactorSocketFeature(Socket Socket);

/// <summary>
/// A connection accepted by <see cref="ReactorConnectionListener"/>, as Kestrel sees it: its id,
/// end points, features and lifetime. Its data never passes through <see cref="Transport"/> (two
/// empty, completed pipes): the connection handler finds the socket in
/// <see cref="ReactorSocketFeature"/> and gives it to a reactor.
/// </summary>
internal sealed class ReactorConnection : ConnectionContext
{
    private static long _nextId;
    private readonly Socket _socket;
    private readonly CancellationTokenSource _closed = new();
    private int _disposed;

    public ReactorConnection(Socket socket)
    {
        _socket = socket;
        ConnectionId = $"nvme-{Interlocked.Increment(ref _nextId):x}";
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ConnectionClosed = _closed.Token;
        Features.Set(new ReactorSocketFeature(socket));
        Transport = ClosedPipe.Instance;
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new ConnectionItems();

    public override IDuplexPipe Transport { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    /// <summary>Ends the connection: the reactor sees the end of the stream and closes the queue.</summary>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Kestrel calls this once the handler (and so the reactor's use of the socket) has finished.</summary>
    public override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _socket.Dispose();
            _closed.Cancel();
            _closed.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Two completed pipes: reading yields the end at once, writing goes nowhere.</summary>
    private sealed class ClosedPipe : IDuplexPipe
    {
        public static readonly ClosedPipe Instance = new();

        private ClosedPipe()
        {
            var input = new Pipe();
            input.Writer.Complete();
            Input = input.Reader;
            var output = new Pipe();
            output.Reader.Complete();
            Output = output.Writer;
        }

        public PipeReader Input { get; }

        public PipeWriter Output { get; }
    }
}
