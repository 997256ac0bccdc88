using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.BlockEngine;
using NovaStor.Protocol;
using NovaStor.Target.Core;
using NovaStor.Target.Transport;

namespace NovaStor.Benchmarks;

/// <summary>
/// One real <see cref="PipeQueue"/> driven through two in-memory pipes instead of a socket, and the
/// host's end of it. Setup helpers (ICReq, Submit) may allocate; <see cref="RoundTrip"/>, the
/// measured part, does not: it writes prepared bytes and parses the answers into a reused buffer.
/// </summary>
internal sealed class InMemoryQueue : IBenchmarkQueue
{
    // Never pause either writer: the measured side flushes synchronously and polls with TryRead,
    // so no benchmark-side await (and no allocation of ours) enters the measurement. Blocks come
    // from a Kestrel-like pool; the target's reads resume on the thread pool, as under Kestrel.
    private static readonly PipeOptions Options = new(new BlockMemoryPool(), PipeScheduler.ThreadPool, PipeScheduler.ThreadPool,
        pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);

    private readonly Pipe _toTarget = new(Options);
    private readonly Pipe _fromTarget = new(Options);
    private readonly byte[] _header = new byte[PduFramer.MaxHeaderLength];
    private readonly Task _running;
    private PduFramingRules _rules = PduFramingRules.BeforeInitialization(PduReceiver.Host);
    private ushort _nextCommandId;

    public InMemoryQueue(SubsystemRegistry registry, TargetLimits limits, EngineLane? lane = null)
    {
        var transport = new DuplexPipe(_toTarget.Reader, _fromTarget.Writer);
        var application = new DuplexPipe(_fromTarget.Reader, _toTarget.Writer);
        var connection = new DefaultConnectionContext("bench-" + Guid.NewGuid().ToString("N"), transport, application);
        var queue = new PipeQueue(connection, registry, limits, TimeProvider.System, NullLogger.Instance, lane);
        _running = Task.Run(queue.RunAsync);
    }

    /// <summary>ICReq without digests; waits for ICResp.</summary>
    public void Initialize()
    {
        var request = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionRequest(0, 0, DigestOptions.None, 0).WriteTo(request);
        Send(request);
        ReadOne(PduType.InitializeConnectionResponse);
        _rules = new PduFramingRules(PduReceiver.Host, true, false, false, 0, uint.MaxValue / 2);
    }

    /// <summary>Sends one command (with in-capsule data when given) and returns its completion; setup only.</summary>
    public CompletionQueueEntry Submit(SubmissionQueueEntry command, ReadOnlySpan<byte> inCapsule = default)
    {
        var pdu = new byte[PduWriter.MaxHeaderWithDigest + inCapsule.Length];
        int length = Capsule(pdu, command, _nextCommandId++, inCapsule);
        Send(pdu.AsSpan(0, length));
        return ReadOne(PduType.CapsuleResponse);
    }

    /// <summary>Writes one CapsuleCmd (SGL and CID filled in) and its in-capsule data; returns the bytes written.</summary>
    public static int Capsule(Span<byte> destination, SubmissionQueueEntry command, ushort commandId, ReadOnlySpan<byte> inCapsule, int transferLength = -1)
    {
        command.CommandId = commandId;
        command.Flags = (byte)((command.Flags & 0x3F) | SubmissionQueueEntry.SglFlags);
        bool hasData = inCapsule.Length > 0;
        uint sglLength = (uint)(transferLength >= 0 ? transferLength : inCapsule.Length);
        command.Sgl = new SglDescriptor(0, sglLength, hasData ? SglDescriptor.DataBlockOffset : SglDescriptor.TransportDataBlock);
        int length = PduWriter.WriteCapsuleCommandHeader(destination, command, inCapsule.Length, false, false);
        inCapsule.CopyTo(destination[length..]);
        return length + inCapsule.Length;
    }

    /// <summary>
    /// The measured step: sends prepared CapsuleCmds (<paramref name="commands"/> of them, in one
    /// flush) and consumes the target's answers until every CapsuleResp has arrived. An R2T is
    /// answered at once with one H2CData carrying the first R2TL bytes of <paramref name="r2tData"/>.
    /// Throws if a command failed, so a broken setup cannot pass for a fast one.
    /// </summary>
    public void RoundTrip(ReadOnlySpan<byte> batch, int commands, ReadOnlySpan<byte> r2tData = default)
    {
        Send(batch);
        var reader = _fromTarget.Reader;
        int responses = 0;
        var spin = default(SpinWait);
        while (responses < commands)
        {
            if (!reader.TryRead(out var result))
            {
                // Yield to the target's threads (2 cores here); never Sleep(1), which would dominate the time.
                spin.SpinOnce(sleep1Threshold: -1);
                continue;
            }

            var buffer = result.Buffer;
            while (PduFramer.TryFrame(buffer, _rules, _header, out var frame, out _) == FrameStatus.Complete)
            {
                var writer = _toTarget.Writer;
                if (HostResponses.Handle(frame.Type, _header, writer.GetSpan(PduWriter.MaxHeaderWithDigest), out int h2cLength, out var h2cData))
                {
                    responses++;
                }
                else if (h2cLength > 0)
                {
                    writer.Advance(h2cLength);
                    Send(r2tData[h2cData]);
                }

                buffer = buffer.Slice(frame.Length);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new InvalidOperationException("the target closed the connection");
            }
        }
    }

    private void Send(ReadOnlySpan<byte> bytes)
    {
        var writer = _toTarget.Writer;
        writer.Write(bytes);
        var flush = writer.FlushAsync();
        // With pausing off, a flush completes at once; anything else is a setup error.
        if (!flush.IsCompletedSuccessfully || flush.Result.IsCompleted)
        {
            throw new InvalidOperationException("the target stopped reading");
        }
    }

    private CompletionQueueEntry ReadOne(PduType expected)
    {
        var reader = _fromTarget.Reader;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var result = reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
            var buffer = result.Buffer;
            var status = PduFramer.TryFrame(buffer, _rules, _header, out var frame, out var error);
            if (status == FrameStatus.Complete)
            {
                reader.AdvanceTo(buffer.GetPosition(frame.Length));
                if (frame.Type != expected)
                {
                    throw new InvalidOperationException($"expected {expected}, received {frame.Type}");
                }

                return expected == PduType.CapsuleResponse ? CompletionQueueEntry.Read(_header.AsSpan(PduSizes.CommonHeader)) : default;
            }

            if (status == FrameStatus.Fatal || result.IsCompleted)
            {
                throw new InvalidOperationException($"the target answered with a broken PDU or closed: {error.Reason}");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }

        throw new TimeoutException($"no {expected} from the target");
    }

    /// <summary>Closes the host's side; the target's queue sees the end of its input and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        await _toTarget.Writer.CompleteAsync().ConfigureAwait(false);
        await _running.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await _fromTarget.Reader.CompleteAsync().ConfigureAwait(false);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
