using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine;

/// <summary>What a backend does with a request that has already been validated.</summary>
internal interface IVolumeBackend
{
    /// <summary>
    /// Performs a validated request on a thread-pool thread, concurrently with others; returns 0 or
    /// a positive errno. An exception is reported as EIO.
    /// </summary>
    int Execute(in BlockRequest request);

    /// <summary>Frees the backend's resources; called once, after the last accepted request finished.</summary>
    void ReleaseResources();
}

/// <summary>
/// The part every thread-pool volume shares: request validation, pooled work items (no allocation
/// per request in steady state), completion delivery that never throws into the pool, and a
/// reference count so resources are freed only after the last accepted request finished. A request
/// submitted on the reactor thread of its lane runs inline there instead, its completion deferred
/// to that reactor (run to completion: a memory namespace costs no thread hop).
/// </summary>
internal sealed class VolumeDispatcher
{
    /// <summary>How long Dispose waits for accepted requests before letting the last one free the resources.</summary>
    internal static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(30);

    private readonly IVolumeBackend _backend;
    private readonly ILogger _logger;
    private readonly string _name;
    private long _sizeBytes;
    private readonly long _blockMask;
    private readonly nint _alignmentMask;
    private readonly ConcurrentQueue<WorkItem> _pool = new();
    private readonly bool _inlineOnReactor;

    // One reference for the owner plus one per accepted request; resources go when it reaches zero.
    private readonly VolumeLifetime _lifetime;

    /// <param name="inlineOnReactor">The backend never blocks (memory, null): a request submitted on its
    /// lane's reactor thread runs there at once. Never for a backend that makes blocking system calls.</param>
    public VolumeDispatcher(IVolumeBackend backend, string name, long sizeBytes, int blockSize, int bufferAlignment, ILogger logger, bool inlineOnReactor = false)
    {
        _inlineOnReactor = inlineOnReactor;
        Debug.Assert(blockSize > 0 && (blockSize & (blockSize - 1)) == 0);
        Debug.Assert(bufferAlignment > 0 && (bufferAlignment & (bufferAlignment - 1)) == 0);
        _backend = backend;
        _name = name;
        _lifetime = new VolumeLifetime(name, backend.ReleaseResources, logger);
        _sizeBytes = sizeBytes;
        _blockMask = blockSize - 1;
        _alignmentMask = bufferAlignment - 1;
        _logger = logger;
    }

    public bool IsDisposed => _lifetime.IsClosed;

    public void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
    {
        ArgumentNullException.ThrowIfNull(completion);
        int error = Validate(in request);
        bool run = false;
        if (error == 0)
        {
            if (_lifetime.TryEnter())
            {
                run = true;
            }
            else
            {
                error = Errno.ENODEV;
            }
        }

        if (_inlineOnReactor && request.Lane?.Reactor is { IsCurrentThread: true } reactor)
        {
            // Submitted on a reactor (a target queue's own thread): memory and null volumes finish at
            // once, so the request runs here and its completion is delivered by that reactor after
            // the submitter returns. No thread hop, and the response goes out in the same iteration.
            if (run)
            {
                error = Run(in request);
            }
            reactor.DeferCompletion(completion, userData, error);
            return;
        }

        if (!_pool.TryDequeue(out WorkItem? item))
        {
            item = new WorkItem(this);
        }
        item.Request = request;
        item.Completion = completion;
        item.UserData = userData;
        item.Error = error;
        item.Run = run;
        ThreadPool.UnsafeQueueUserWorkItem(item, preferLocal: false);
    }

    /// <summary>The rules all backends share: see <see cref="BlockRequestRules.Validate"/>.</summary>
    internal int Validate(in BlockRequest request) => BlockRequestRules.Validate(in request, Volatile.Read(ref _sizeBytes), _blockMask, _alignmentMask);

    /// <summary>Requests up to the new size are accepted from now on (see <see cref="IGrowableVolume"/>).</summary>
    internal void Grow(long newSizeBytes) => Volatile.Write(ref _sizeBytes, newSizeBytes);

    /// <summary>
    /// Stops accepting requests (later ones complete with ENODEV), waits up to
    /// <paramref name="wait"/> for accepted ones to finish, then drops the owner's reference: the
    /// resources are freed now, or by the last straggler if the wait ran out.
    /// </summary>
    public void Dispose(TimeSpan wait) => _lifetime.Close(wait);

    private int Run(in BlockRequest request)
    {
        try
        {
            return _backend.Execute(in request);
        }
        catch (Exception ex)
        {
            Log.ExecuteThrew(_logger, _name, request.Operation, request.Offset, request.Length, ex);
            return Errno.EIO;
        }
        finally
        {
            _lifetime.Exit();
        }
    }

    private sealed class WorkItem(VolumeDispatcher owner) : IThreadPoolWorkItem
    {
        public BlockRequest Request;
        public IBlockCompletion? Completion;
        public ulong UserData;
        public int Error;
        public bool Run;

        public void Execute()
        {
            BlockRequest request = Request;
            IBlockCompletion completion = Completion!;
            ulong userData = UserData;
            int error = Error;
            bool run = Run;
            Completion = null;

            if (run)
            {
                error = owner.Run(in request);
            }
            // Back to the pool before the callback: the callback may submit again and reuse it.
            owner._pool.Enqueue(this);

            try
            {
                completion.OnBlockCompleted(userData, error);
            }
            catch (Exception ex)
            {
                Log.CompletionThrew(owner._logger, owner._name, userData, ex);
            }
        }
    }
}
