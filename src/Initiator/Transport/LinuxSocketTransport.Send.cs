using System.Net.Sockets;
using NovaStor.Protocol;
using static NovaStor.Initiator.Transport.LinuxSocketNative;

namespace NovaStor.Initiator.Transport;

/// <summary>
/// The send side: any thread sends its PDU itself under the send lock, straight from the
/// caller's memory; the queue thread coalesces its own until the end of its batch; whatever the
/// socket does not take waits, in order, in <see cref="PendingSends"/> for POLLOUT.
/// </summary>
internal sealed partial class LinuxSocketTransport
{
    public override bool Send(ReadOnlySpan<byte> header, ReadOnlyMemory<byte> data, bool dataDigest, bool more = false)
    {
        uint digest = dataDigest && !data.IsEmpty ? Crc32C.Compute(data.Span) : 0;
        bool onQueueThread = Environment.CurrentManagedThreadId == _threadId;
        bool coalesce = onQueueThread && _inBatch;
        Exception? failure = null;
        lock (_sendLock)
        {
            if (_sendClosed)
            {
                return false;
            }

            // The queue thread keeps small PDUs (and a piece that more follow) for the one sendmsg
            // at the end of its batch; a large one with nothing queued before it goes out now.
            if (_pending.IsEmpty && !(coalesce && (data.Length <= CoalesceLimit || more)))
            {
                int length = header.Length + data.Length + (dataDigest && !data.IsEmpty ? sizeof(uint) : 0);
                int sent = SendDirect(header, data, dataDigest, digest, out failure);
                if (sent == length || failure is not null)
                {
                    goto done;
                }

                _pending.Enqueue(header, data, dataDigest, digest, sent);
                CountShortSend();
            }
            else
            {
                _pending.Enqueue(header, data, dataDigest, digest, 0);
                if (!coalesce)
                {
                    FlushLocked(out failure);
                }
            }

            // The queue thread finishes what is left; wake it unless it already knows.
            if (!_pending.IsEmpty && !onQueueThread && !_drainArmed)
            {
                _drainArmed = true;
                SignalLocked();
            }
        }

    done:
        if (failure is not null)
        {
            OnSendFailed(failure);
        }

        return true;
    }

    /// <summary>Sends one PDU with nothing queued before it: header, data and digest from where they are (the data pinned for the call only).</summary>
    private unsafe int SendDirect(ReadOnlySpan<byte> header, ReadOnlyMemory<byte> data, bool dataDigest, uint digest, out Exception? failure)
    {
        failure = null;
        var vectors = stackalloc IoVector[3];
        uint digestBytes = digest; // little endian on every platform .NET runs this path on
        fixed (byte* headerBytes = header)
        fixed (byte* dataBytes = data.Span)
        {
            int count = 0;
            int total = 0;
            Add(vectors, ref count, ref total, headerBytes, header.Length);
            Add(vectors, ref count, ref total, dataBytes, data.Length);
            if (dataDigest && !data.IsEmpty)
            {
                Add(vectors, ref count, ref total, (byte*)&digestBytes, sizeof(uint));
            }

            int sent = 0;
            while (sent < total)
            {
                nint n = SendNow(_fd, vectors, count, out int errno);
                if (n < 0)
                {
                    if (errno == EINTR)
                    {
                        continue;
                    }

                    if (errno != EAGAIN)
                    {
                        failure = SendError(errno);
                    }

                    return sent;
                }

                sent += (int)n;
                Advance(vectors, ref count, n);
            }

            return sent;
        }

        static unsafe void Add(IoVector* vectors, ref int count, ref int total, byte* start, int length)
        {
            if (length > 0)
            {
                vectors[count++] = new IoVector { Base = start, Length = (nuint)length };
                total += length;
            }
        }
    }

    /// <summary>Drops the first <paramref name="sent"/> bytes from <paramref name="vectors"/>.</summary>
    private static unsafe void Advance(IoVector* vectors, ref int count, nint sent)
    {
        int first = 0;
        while (first < count && sent >= (nint)vectors[first].Length)
        {
            sent -= (nint)vectors[first].Length;
            first++;
        }

        if (first < count)
        {
            vectors[first].Base = (byte*)vectors[first].Base + sent;
            vectors[first].Length -= (nuint)sent;
        }

        for (int i = first; i < count; i++)
        {
            vectors[i - first] = vectors[i];
        }

        count -= first;
    }

    /// <summary>Sends what is queued, as far as the socket takes it now (queue thread, end of batch or POLLOUT).</summary>
    private void Flush()
    {
        Exception? failure;
        lock (_sendLock)
        {
            if (_pending.IsEmpty || _sendClosed)
            {
                return;
            }

            FlushLocked(out failure);
        }

        if (failure is not null)
        {
            OnSendFailed(failure);
        }
    }

    /// <summary>Gathers queued PDUs into sendmsg calls until they are all sent or the socket is full; under the send lock.</summary>
    private unsafe void FlushLocked(out Exception? failure)
    {
        failure = null;
        var vectors = stackalloc IoVector[VectorsPerSend];
        while (!_pending.IsEmpty)
        {
            int count = _pending.Gather(vectors, VectorsPerSend);
            nint sent = SendNow(_fd, vectors, count, out int errno);
            if (sent < 0)
            {
                if (errno == EINTR)
                {
                    continue;
                }

                if (errno != EAGAIN)
                {
                    failure = SendError(errno);
                }
                else
                {
                    CountShortSend();
                }

                return;
            }

            _pending.Consume(sent);
        }

        _drainArmed = false;
        _drained?.TrySetResult();
    }

    private static NvmeTransportException SendError(int errno) =>
        new($"sending to the controller failed: {Describe(errno)}", FatalErrorStatus.None, 0, new SocketException(errno == EPIPE ? (int)SocketError.Shutdown : (int)SocketError.SocketError));

    /// <summary>A send failed: the connection is over; the queue learns why first, then the receive side is woken to end.</summary>
    private void OnSendFailed(Exception failure)
    {
        _receiver.OnConnectionFailed(failure);
        Abort();
    }

    private void CloseSends()
    {
        lock (_sendLock)
        {
            _sendClosed = true;
            _pending.Clear();
            _drained?.TrySetResult();
        }
    }
}
