using System.Buffers;
using System.IO.Pipelines;

namespace NovaStor.Initiator.Transport;

/// <summary>
/// The send side of a queue: PDUs are copied whole into an in-memory pipe while
/// <see cref="Lock"/> is held, and one writer loop moves the pipe to the socket. PDUs therefore
/// never interleave, no submitter waits on the socket, and a busy queue batches naturally
/// (the loop sends whatever accumulated while it was writing).
/// </summary>
/// <remarks>
/// The pipe never pauses its writer: what it holds is bounded by the command table (each slot
/// has at most one capsule or one R2T's worth of H2CData queued), and a flush that could not
/// complete synchronously would have to wait outside the lock.
/// </remarks>
internal sealed class PduSender
{
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: 16384, useSynchronizationContext: false));
    private readonly Stream _stream;
    private bool _completed;

    public PduSender(Stream stream) => _stream = stream;

    /// <summary>Held while one PDU is written into <see cref="Writer"/>; never across an await.</summary>
    public Lock Lock { get; } = new();

    /// <summary>Where PDUs are built; only while holding <see cref="Lock"/>.</summary>
    public IBufferWriter<byte> Writer => _pipe.Writer;

    /// <summary>False once the sender is closed; check it under the lock before writing.</summary>
    public bool IsOpen => !_completed;

    /// <summary>Hands what was written to the writer loop; under the lock.</summary>
    public void Commit()
    {
        var flush = _pipe.Writer.FlushAsync();
        // Never pauses (see remarks), so the flush has completed; observe it all the same.
        if (flush.IsCompleted)
        {
            flush.GetAwaiter().GetResult();
        }
    }

    /// <summary>Stops accepting PDUs; the loop sends what is queued and ends.</summary>
    public void Close()
    {
        lock (Lock)
        {
            if (!_completed)
            {
                _completed = true;
                _pipe.Writer.Complete();
            }
        }
    }

    /// <summary>The writer loop: until closed or the socket fails (the exception is the failure).</summary>
    public async Task RunAsync()
    {
        var reader = _pipe.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    await _stream.WriteAsync(segment).ConfigureAwait(false);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }
}
