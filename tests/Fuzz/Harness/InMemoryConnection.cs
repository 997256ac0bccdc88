using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace NovaStor.Fuzz;

/// <summary>
/// What Kestrel hands the target's connection handler, over two in-memory pipes instead of a
/// socket: the host's end writes what a host would send and reads back everything the target sent.
/// </summary>
/// <remarks>
/// The target's reads resume inline on the thread that writes (as Kestrel's socket transport does
/// with inline scheduling) and no pipe ever pauses its writer, so <see cref="Send"/> returns once
/// the target has handled every whole PDU it was given. <see cref="Abort"/> ends the target's
/// receive loop as a closed socket would, but later, on the thread of the synchronization context
/// the connection was made on (a socket's end also comes back on its own thread, never inside the
/// call that closed it).
/// </remarks>
internal sealed class InMemoryConnection : ConnectionContext
{
    private static readonly PipeOptions Options = new(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);

    private readonly Pipe _toTarget = new(Options);
    private readonly Pipe _fromTarget = new(Options);
    private readonly Action<Action> _defer;
    private int _aborted;
    private volatile bool _targetWaits;

    /// <param name="defer">Runs an action later on the host's thread: where the end of a closed connection comes back.</param>
    public InMemoryConnection(string connectionId, Action<Action> defer)
    {
        ConnectionId = connectionId;
        _defer = defer;
        Transport = new DuplexPipe(new WatchedReader(_toTarget.Reader, this), _fromTarget.Writer);
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    /// <summary>The target closed the connection (a disconnect, a termination, a controller torn down).</summary>
    public bool Aborted => Volatile.Read(ref _aborted) != 0;

    /// <summary>
    /// The target's receive loop waits for bytes the host has not sent: the queue is alive and has
    /// handled everything it was given. False while it works, and once it has stopped reading.
    /// </summary>
    public bool TargetWaits => _targetWaits;

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Volatile.Write(ref _aborted, 1);
        _defer(EndReads);
    }

    /// <summary>Sends <paramref name="bytes"/> as the host; returns once the target has handled every whole PDU in them.</summary>
    public void Send(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return; // nothing wakes the target's read
        }

        _targetWaits = false;
        _toTarget.Writer.Write(bytes);
        var flush = _toTarget.Writer.FlushAsync();
        if (!flush.IsCompleted)
        {
            throw new InvalidOperationException("an in-memory pipe that never pauses its writer made it wait");
        }

        _ = flush.Result;
    }

    /// <summary>The host closes its side: the target sees the end of its input.</summary>
    public void CompleteInput()
    {
        _targetWaits = false;
        _toTarget.Writer.Complete();
    }

    /// <summary>What the target has written so far, left in place for <see cref="TakeOutput"/>.</summary>
    public byte[] PeekOutput()
    {
        var reader = _fromTarget.Reader;
        if (!reader.TryRead(out var result))
        {
            return [];
        }

        var bytes = result.Buffer.ToArray();
        reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        return bytes;
    }

    /// <summary>Everything the target wrote; call once the target's queue has ended.</summary>
    public byte[] TakeOutput()
    {
        var reader = _fromTarget.Reader;
        if (!reader.TryRead(out var result))
        {
            reader.Complete();
            return [];
        }

        var bytes = result.Buffer.ToArray();
        reader.AdvanceTo(result.Buffer.End);
        reader.Complete();
        return bytes;
    }

    private void EndReads()
    {
        _targetWaits = false;
        _toTarget.Reader.CancelPendingRead();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>The target's input, telling the connection when a read has to wait for the host.</summary>
    private sealed class WatchedReader(PipeReader inner, InMemoryConnection connection) : PipeReader
    {
        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            var read = inner.ReadAsync(cancellationToken);
            if (!read.IsCompleted)
            {
                connection._targetWaits = true;
            }

            return read;
        }

        public override bool TryRead(out ReadResult result) => inner.TryRead(out result);

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
