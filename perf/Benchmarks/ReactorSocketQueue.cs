using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine;
using NovaStor.Protocol;
using NovaStor.Target.Core;
using NovaStor.Target.Transport;

namespace NovaStor.Benchmarks;

/// <summary>
/// One real <see cref="ReactorQueue"/> on a reactor (io_uring, or native AIO with epoll), reached over a loopback TCP
/// connection, and the host's end of it: a blocking socket (plain recv/send system calls, no
/// thread pool) and PDUs parsed in place from a reused buffer, so the measured round trip
/// allocates nothing on the host's side and the target's allocations are what the diagnoser sees.
/// </summary>
internal sealed class ReactorSocketQueue : IBenchmarkQueue
{
    private readonly Socket _host;
    private readonly byte[] _receive = new byte[1 << 20];
    private readonly byte[] _header = new byte[PduFramer.MaxHeaderLength];
    private readonly byte[] _dataHeader = new byte[PduWriter.MaxHeaderWithDigest];
    private readonly Task _running;
    private PduFramingRules _rules = PduFramingRules.BeforeInitialization(PduReceiver.Host);
    private ushort _nextCommandId;
    private int _head;
    private int _tail;

    public ReactorSocketQueue(SubsystemRegistry registry, TargetLimits limits, EngineLane lane)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        // Connected synchronously, so the descriptor stays blocking: Send and Receive are plain system calls.
        _host = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 10_000 };
        _host.Connect(listener.LocalEndPoint!);
        var accepted = listener.Accept();
        accepted.NoDelay = true;
        var connection = new ReactorConnection(accepted);
        var queue = new ReactorQueue(accepted, lane.StreamReactor ?? throw new InvalidOperationException("the lane has no reactor"), lane, registry, limits, TimeProvider.System, NullLogger.Instance);
        _running = RunAsync(queue, connection);
    }

    public void Initialize()
    {
        var request = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionRequest(0, 0, DigestOptions.None, 0).WriteTo(request);
        _host.Send(request);
        ReadOne(PduType.InitializeConnectionResponse);
        _rules = new PduFramingRules(PduReceiver.Host, true, false, false, 0, uint.MaxValue / 2);
    }

    public CompletionQueueEntry Submit(SubmissionQueueEntry command, ReadOnlySpan<byte> inCapsule = default)
    {
        var pdu = new byte[PduWriter.MaxHeaderWithDigest + inCapsule.Length];
        int length = InMemoryQueue.Capsule(pdu, command, _nextCommandId++, inCapsule);
        _host.Send(pdu.AsSpan(0, length));
        return ReadOne(PduType.CapsuleResponse);
    }

    public void RoundTrip(ReadOnlySpan<byte> batch, int commands, ReadOnlySpan<byte> r2tData = default)
    {
        _host.Send(batch);
        int responses = 0;
        while (responses < commands)
        {
            Receive();
            while (TryFrame(out var frame))
            {
                if (HostResponses.Handle(frame.Type, _header, _dataHeader, out int h2cLength, out var h2cData))
                {
                    responses++;
                }
                else if (h2cLength > 0)
                {
                    _host.Send(_dataHeader.AsSpan(0, h2cLength));
                    _host.Send(r2tData[h2cData]);
                }

                _head += frame.Length;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The target's queue sees the end of its stream and closes.
        _host.Shutdown(SocketShutdown.Both);
        await _running.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _host.Dispose();
    }

    private static async Task RunAsync(ReactorQueue queue, ReactorConnection connection)
    {
        try
        {
            await queue.RunAsync(connection).ConfigureAwait(false);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Blocks until more bytes arrive; keeps a partial PDU at the front of the buffer.</summary>
    private void Receive()
    {
        if (_head == _tail)
        {
            _head = _tail = 0;
        }
        else if (_head > _receive.Length / 2)
        {
            _receive.AsSpan(_head, _tail - _head).CopyTo(_receive);
            _tail -= _head;
            _head = 0;
        }

        int received = _host.Receive(_receive, _tail, _receive.Length - _tail, SocketFlags.None);
        if (received == 0)
        {
            throw new InvalidOperationException("the target closed the connection");
        }

        _tail += received;
    }

    private bool TryFrame(out PduFrame frame)
    {
        var status = PduFramer.TryFrame(new ReadOnlySequence<byte>(_receive, _head, _tail - _head), _rules, _header, out frame, out var error);
        if (status == FrameStatus.Fatal)
        {
            throw new InvalidOperationException($"the target sent a broken PDU: {error.Reason}");
        }

        return status == FrameStatus.Complete;
    }

    private CompletionQueueEntry ReadOne(PduType expected)
    {
        while (true)
        {
            if (TryFrame(out var frame))
            {
                _head += frame.Length;
                if (frame.Type != expected)
                {
                    throw new InvalidOperationException($"expected {expected}, received {frame.Type}");
                }

                return expected == PduType.CapsuleResponse ? CompletionQueueEntry.Read(_header.AsSpan(PduSizes.CommonHeader)) : default;
            }

            Receive();
        }
    }
}
