using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.BlockEngine.Reactors;
using NovaStor.Initiator;

namespace NovaStor.Ublk;

/// <summary>
/// One ublk hardware queue served by its own thread, the queue's "daemon" as the driver calls it:
/// the driver accepts FETCH_REQ and COMMIT_AND_FETCH_REQ for a queue from one task only, so this
/// thread owns the queue's io_uring and issues every command of it. Requests are read from the
/// queue's shared descriptor array and handed to the <see cref="UblkRequests"/> (the NVMe
/// namespace); a request that completes on another thread (the initiator's) posts its tag and
/// wakes this thread through an eventfd read that sits in the same ring, so the commit goes out
/// from here. Each tag owns one buffer of the device's largest request, given to the driver at
/// fetch: write data arrives in it, read data is copied out of it at commit.
/// </summary>
internal sealed unsafe partial class UblkQueue : IDisposable
{
    /// <summary>user_data of the eventfd read; tags are below 4096.</summary>
    private const ulong WakeUp = ulong.MaxValue;

    private readonly int _charFd;
    private readonly ushort _queueId;
    private readonly int _depth;
    private readonly UblkRequests _requests;
    private readonly ILogger _logger;
    private readonly AlignedBuffer[] _buffers;
    private readonly TagState[] _tags;
    private readonly ConcurrentQueue<ushort> _completed = new();
    private readonly int _eventFd;
    private readonly ulong* _eventValue;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _fetched = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private IoUring? _ring;

    /// <summary>1 while an eventfd signal is on its way to this queue's thread.</summary>
    private int _wakePending;
    private IoDescriptor* _descriptors;
    private nuint _descriptorsLength;

    public UblkQueue(int charFd, ushort queueId, int depth, int bufferBytes, UblkRequests requests, ILogger logger)
    {
        _charFd = charFd;
        _queueId = queueId;
        _depth = depth;
        _requests = requests;
        _logger = logger;
        _buffers = new AlignedBuffer[depth];
        _tags = new TagState[depth];
        for (int tag = 0; tag < depth; tag++)
        {
            _buffers[tag] = new AlignedBuffer(bufferBytes);
            _tags[tag] = new TagState(this, (ushort)tag);
        }

        _eventFd = ReactorNative.CreateEventFd(nonBlocking: false, out int errno);
        if (_eventFd < 0)
        {
            throw new UblkException(errno, $"eventfd for ublk queue {queueId} failed: {Errno.Describe(errno)}.");
        }

        _eventValue = (ulong*)NativeMemory.AlignedAlloc(sizeof(ulong), sizeof(ulong));
        _thread = new Thread(Run) { IsBackground = true, Name = $"ublk q{queueId}" };
    }

    /// <summary>Requests this queue has started (read by others only after <see cref="Ended"/>).</summary>
    public long Requests { get; private set; }

    /// <summary>Completes once every tag's FETCH_REQ is with the driver (START_DEV may then be sent).</summary>
    public Task Fetched => _fetched.Task;

    /// <summary>Completes when the queue has stopped: every tag aborted (the device stopped), or the ring failed.</summary>
    public Task Ended => _ended.Task;

    public void Start() => _thread.Start();

    private void Run()
    {
        try
        {
            _ring = IoUring.Create((uint)_depth + 2, IoUringNative.IORING_SETUP_SQE128);
            MapDescriptors();
            for (ushort tag = 0; tag < _depth; tag++)
            {
                PrepareIo(UblkAbi.FetchRequest, tag, 0);
            }

            ArmWakeUp();
            _ring.Submit();
            _fetched.TrySetResult();
            Serve();
            _ended.TrySetResult();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            Log.QueueFailed(_logger, _queueId, e.Message);
            _fetched.TrySetException(e);
            _ended.TrySetException(e);
        }
    }

    private void Serve()
    {
        Span<IoUringCqe> completions = stackalloc IoUringCqe[64];
        int aborted = 0;
        while (aborted < _depth)
        {
            _ring!.Submit(1);
            int count = _ring.ReapCompletions(completions);
            for (int i = 0; i < count; i++)
            {
                ref readonly var completion = ref completions[i];
                if (completion.UserData == WakeUp)
                {
                    // Cleared before draining: a tag posted from here on signals again.
                    Volatile.Write(ref _wakePending, 0);
                    while (_completed.TryDequeue(out ushort done))
                    {
                        PrepareIo(UblkAbi.CommitAndFetchRequest, done, _tags[done].Result);
                    }

                    ArmWakeUp();
                    continue;
                }

                ushort tag = (ushort)completion.UserData;
                if (completion.Result == 0)
                {
                    Begin(tag);
                }
                else
                {
                    // UBLK_IO_RES_ABORT: the device is stopping and the tag is not fetched again;
                    // any other error leaves the tag with the driver as well.
                    if (completion.Result != UblkAbi.ResultAbort)
                    {
                        Log.CommandRefused(_logger, _queueId, tag, Errno.Describe(-completion.Result));
                    }

                    aborted++;
                }
            }
        }
    }

    /// <summary>A request arrived for <paramref name="tag"/>: start it; one that finished at once is committed now.</summary>
    private void Begin(ushort tag)
    {
        Requests++;
        var state = _tags[tag];
        ref readonly var request = ref _descriptors[tag];
        if (_requests.Start(in request, _buffers[tag], state))
        {
            PrepareIo(UblkAbi.CommitAndFetchRequest, tag, state.Result);
        }
    }

    /// <summary>From any thread: the request of <paramref name="tag"/> is done, its result in the tag's state.</summary>
    private void Post(ushort tag)
    {
        _completed.Enqueue(tag);
        // One eventfd write per wake-up, not per request: tags posted while one is pending are
        // drained by it (the queue thread clears the flag before it drains).
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            _ = ReactorNative.SignalEventFd(_eventFd);
        }
    }

    private void PrepareIo(uint operation, ushort tag, int result)
    {
        if (!_ring!.TryGetSubmissionEntry(out var sqe))
        {
            // depth + 2 entries: one command per tag plus the wake-up; a full ring means a bug.
            throw new InvalidOperationException($"ublk queue {_queueId}: the ring is full.");
        }

        var command = new IoCommand { QueueId = _queueId, Tag = tag, Result = result, Address = (ulong)_buffers[tag].Address };
        MemoryMarshal.Write(sqe->PrepareUringCommand(_charFd, operation, tag), in command);
    }

    private void ArmWakeUp()
    {
        if (!_ring!.TryGetSubmissionEntry(out var sqe))
        {
            throw new InvalidOperationException($"ublk queue {_queueId}: the ring is full.");
        }

        // In a ring of 128-byte entries every entry is cleared whole, whatever its operation.
        NativeMemory.Clear(sqe, 128);
        sqe->PrepareRead(_eventFd, (nint)_eventValue, sizeof(ulong), 0, WakeUp);
    }

    /// <summary>The queue's descriptor array: read-only, at q_id times the per-queue stride of the char device.</summary>
    private void MapDescriptors()
    {
        _descriptorsLength = (nuint)(((long)_depth * IoDescriptor.Size + 4095) / 4096 * 4096);
        nint address = UblkNative.MapReadOnly(_charFd, _descriptorsLength, _queueId * UblkAbi.DescriptorArrayStride, out int errno);
        if (address == 0)
        {
            throw new UblkException(errno, $"Mapping the request descriptors of ublk queue {_queueId} failed: {Errno.Describe(errno)}.");
        }

        _descriptors = (IoDescriptor*)address;
    }

    /// <summary>Call after <see cref="Ended"/>: the ring, the mapping, the buffers.</summary>
    public void Dispose()
    {
        _ring?.Dispose();
        if (_descriptors != null)
        {
            _ = IoUringNative.Unmap((nint)_descriptors, _descriptorsLength);
            _descriptors = null;
        }

        foreach (var buffer in _buffers)
        {
            buffer.Dispose();
        }

        _ = NovaStor.BlockEngine.Native.Libc.Close(_eventFd);
        NativeMemory.AlignedFree(_eventValue);
    }

    /// <summary>
    /// One tag's request: its result, and while it is in flight the pending command and the
    /// continuation that turns it into a result and posts the tag (made once per tag, so nothing is
    /// allocated per request).
    /// </summary>
    internal sealed class TagState
    {
        private readonly UblkQueue _queue;
        private readonly ushort _tag;
        private readonly Action _completed;
        private UblkRequests? _requests;
        private ValueTask<NvmeResult> _pending;
        private int _done;
        private IoDescriptor _request;

        public TagState(UblkQueue queue, ushort tag)
        {
            _queue = queue;
            _tag = tag;
            _completed = Completed;
        }

        /// <summary>Bytes done (reads, writes), 0 (flush, discard, write zeroes), or -errno.</summary>
        public int Result { get; set; }

        /// <summary>Waits for <paramref name="pending"/> off this thread; its outcome is posted to the queue's thread.</summary>
        public void Track(UblkRequests requests, ValueTask<NvmeResult> pending, int done, in IoDescriptor request)
        {
            _requests = requests;
            _pending = pending;
            _done = done;
            _request = request;
            pending.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_completed);
        }

        private void Completed()
        {
            Result = _requests!.Outcome(_pending, _done, in _request);
            _pending = default;
            _queue.Post(_tag);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "ublk queue {Queue} stopped: {Error}")]
        public static partial void QueueFailed(ILogger logger, ushort queue, string error);

        [LoggerMessage(2, LogLevel.Warning, "ublk queue {Queue} tag {Tag}: the driver refused a command: {Error}")]
        public static partial void CommandRefused(ILogger logger, ushort queue, ushort tag, string error);
    }
}
