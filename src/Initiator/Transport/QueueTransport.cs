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

    public static QueueTransport Create(HostQueueTransport kind, IPduReceiver receiver, AddressFamily family) =>
        kind == HostQueueTransport.Automatic && OperatingSystem.IsLinux()
            ? new LinuxSocketTransport(receiver, family)
            : new StreamTransport(receiver, family);

    /// <summary>Connects and starts receiving; throws <see cref="TimeoutException"/> after <paramref name="timeout"/>.</summary>
    public abstract Task ConnectAsync(EndPoint endPoint, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>
    /// Sends one PDU: <paramref name="header"/> (copied before this returns), then
    /// <paramref name="data"/> (the caller's memory, read in place until it is on the wire, which
    /// is before the command it belongs to can complete), then the data digest when
    /// <paramref name="dataDigest"/> is set. False when the transport is closed.
    /// </summary>
    public abstract bool Send(ReadOnlySpan<byte> header, ReadOnlyMemory<byte> data, bool dataDigest);

    /// <summary>Completes once receiving has ended, for whatever reason.</summary>
    public abstract Task Closed { get; }

    /// <summary>Shuts the socket down (both ways) so that the receive side ends; safe from any thread, more than once.</summary>
    public abstract void Abort();

    /// <summary>Lets queued bytes reach the wire (for at most a second), then closes and waits for the receive side to end.</summary>
    public abstract ValueTask DisposeAsync();
}
