using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Transport;

/// <summary>
/// The portable path (any OS): a <see cref="PipeReader"/> over a <see cref="NetworkStream"/>
/// feeds a receive loop on the thread pool, and PDUs are copied whole into
/// <see cref="PduSender"/>'s pipe under its lock, which one writer loop moves to the socket.
/// </summary>
internal sealed class StreamTransport : QueueTransport
{
    private readonly IPduReceiver _receiver;
    private readonly Socket _socket;
    private NetworkStream? _stream;
    private PipeReader? _input;
    private PduSender? _sender;
    private Task _receiveLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;

    public StreamTransport(IPduReceiver receiver, Socket socket)
    {
        _receiver = receiver;
        _socket = socket;
    }

    public override Task Closed => _receiveLoop;

    public override async Task ConnectAsync(EndPoint endPoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        await _socket.ConnectAsync(endPoint, limit.Token).ConfigureAwait(false);
        _stream = new NetworkStream(_socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 16 * 1024));
        _sender = new PduSender(_stream);
        _writeLoop = Task.Run(WriteLoopAsync, CancellationToken.None);
        _receiveLoop = Task.Run(ReceiveLoopAsync, CancellationToken.None);
    }

    public override bool Send(ReadOnlySpan<byte> header, ReadOnlyMemory<byte> data, bool dataDigest, bool more = false)
    {
        var sender = _sender;
        if (sender is null)
        {
            return false;
        }

        lock (sender.Lock)
        {
            if (!sender.IsOpen)
            {
                return false;
            }

            // The whole PDU in one contiguous span, so the writer loop moves it with one write
            // (a PDU copied across 16 KiB pipe segments took one socket write per segment).
            int digestLength = dataDigest && !data.IsEmpty ? PduSizes.Digest : 0;
            int length = header.Length + data.Length + digestLength;
            var span = sender.Writer.GetSpan(length);
            header.CopyTo(span);
            data.Span.CopyTo(span[header.Length..]);
            if (digestLength != 0)
            {
                PduWriter.WriteDataDigest(span[(header.Length + data.Length)..], data.Span);
            }

            sender.Writer.Advance(length);
            sender.Commit();
            return true;
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var input = _input!;
        Exception failure = new NvmeTransportException("connection closed by the controller");
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                long used = _receiver.Receive(buffer);
                input.AdvanceTo(buffer.GetPosition(used), buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (NvmeTransportException ex)
        {
            failure = ex;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Every pending command fails with a transport exception, whatever broke the socket.
            failure = new NvmeTransportException($"receiving from the controller failed: {ex.Message}", FatalErrorStatus.None, 0, ex);
        }

        _receiver.OnConnectionFailed(failure);
        _sender?.Close();
        Abort();
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await _sender!.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            _receiver.OnConnectionFailed(new NvmeTransportException($"sending to the controller failed: {ex.Message}", FatalErrorStatus.None, 0, ex));
            _sender!.Close();
            Abort();
        }
    }

    public override void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    public override async ValueTask DisposeAsync()
    {
        _sender?.Close();
        // Let queued PDUs (a final Disconnect, a shutdown) reach the wire before closing.
        await _writeLoop.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Abort();
        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            _socket.Dispose();
        }

        await _receiveLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_input is not null)
        {
            await _input.CompleteAsync().ConfigureAwait(false);
        }
    }
}
