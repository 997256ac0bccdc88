using System.Buffers;
using System.Net;
using System.Net.Sockets;

namespace NovaStor.Initiator.Transport;

/// <summary>
/// What a queue's protocol side (<see cref="HostQueue"/>) offers its transport: whole PDUs are
/// framed and handled there, and the transport is told nothing else about NVMe/TCP.
/// </summary>
internal interface IPduReceiver
{
    /// <summary>
    /// Frames and handles the whole PDUs that start <paramref name="buffer"/>; returns the bytes they
    /// took (a partial PDU at the end stays for the next call). Throws
    /// <see cref="NvmeTransportException"/> for a PDU that breaks the rules.
    /// </summary>
    long Receive(in ReadOnlySequence<byte> buffer);

    /// <summary>The connection is over (first call wins at the queue): every command still waiting fails with <paramref name="failure"/>.</summary>
    void OnConnectionFailed(Exception failure);
}

/// <summary>
/// Moves a queue's bytes: connects, hands received bytes to an <see cref="IPduReceiver"/>, and
/// sends PDUs whole (a PDU never interleaves with another) from whichever thread asks.
/// </summary>
internal abstract class QueueTransport : IAsyncDisposable
{
    /// <summary>Largest PDU header (with its digest) <see cref="Send"/> takes: a CapsuleCmd's.</summary>
    public const int MaxHeaderLength = Protocol.PduWriter.MaxHeaderWithDigest;

    public static QueueTransport Create(HostQueueOptions options, IPduReceiver receiver, AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (options.SocketSendBufferBytes > 0)
        {
            socket.SendBufferSize = options.SocketSendBufferBytes;
        }

        return options.Transport == HostQueueTransport.Automatic && OperatingSystem.IsLinux()
            ? new LinuxSocketTransport(receiver, socket, options.PollMicroseconds)
            : new StreamTransport(receiver, socket);
    }

    /// <summary>Connects and starts receiving; throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public abstract Task ConnectAsync(EndPoint endPoint, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>
    /// Sends one PDU: <paramref name="header"/> (copied before this returns), then
    /// <paramref name="data"/> (the caller's memory, read in place until it is on the wire, which
    /// is before the command it belongs to can complete), then the data digest when
    /// <paramref name="dataDigest"/> is set. <paramref name="more"/> says another PDU follows at
    /// once (the H2CData pieces of one R2T), so they may go out together. False when the
    /// transport is closed.
    /// </summary>
    public abstract bool Send(ReadOnlySpan<byte> header, ReadOnlyMemory<byte> data, bool dataDigest, bool more = false);

    /// <summary>Sends the socket did not take whole at once (the rest was queued and finished later): for tests and diagnostics.</summary>
    public long ShortSends => Interlocked.Read(ref _shortSends);

    private long _shortSends;

    protected void CountShortSend() => Interlocked.Increment(ref _shortSends);

    /// <summary>Completes once receiving has ended, for whatever reason.</summary>
    public abstract Task Closed { get; }

    /// <summary>Shuts the socket down (both ways) so that the receive side ends; safe from any thread, more than once.</summary>
    public abstract void Abort();

    /// <summary>Lets queued bytes reach the wire (for at most a second), then closes and waits for the receive side to end.</summary>
    public abstract ValueTask DisposeAsync();
}
