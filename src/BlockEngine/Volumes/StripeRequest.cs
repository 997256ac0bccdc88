namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// Gathers the parts of one request to a <see cref="StripedVolume"/> and completes the caller once,
/// after the last part, with the first error any part reported. Pooled by the volume.
/// </summary>
/// <remarks>
/// The count starts at one for the submitter, who adds one per part before sending it and drops its
/// own when every part is out: a part completing at once cannot finish the request early. A request
/// refused before any part (invalid, or the volume closed) is completed from the thread pool, as
/// every backend does, never on the submitter's stack.
/// </remarks>
internal sealed class StripeRequest(StripedVolume owner) : IBlockCompletion, IThreadPoolWorkItem
{
    private IBlockCompletion? _completion;
    private ulong _userData;
    private int _remaining;
    private int _error;
    private bool _entered;

    public void Start(IBlockCompletion completion, ulong userData)
    {
        _completion = completion;
        _userData = userData;
        _error = 0;
        _entered = true;
        Volatile.Write(ref _remaining, 1);
    }

    public void AddPart() => Interlocked.Increment(ref _remaining);

    /// <summary>Completes the caller with <paramref name="error"/> from the thread pool.</summary>
    public void FailLater(IBlockCompletion completion, ulong userData, int error, bool entered)
    {
        _completion = completion;
        _userData = userData;
        _error = error;
        _entered = entered;
        Volatile.Write(ref _remaining, 1);
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>One part (or the submitter's own count) is done.</summary>
    public void OnBlockCompleted(ulong userData, int error)
    {
        if (error != 0)
        {
            Interlocked.CompareExchange(ref _error, error, 0);
        }

        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            var completion = _completion!;
            _completion = null;
            owner.Finish(this, completion, _userData, Volatile.Read(ref _error), _entered);
        }
    }

    void IThreadPoolWorkItem.Execute() => OnBlockCompleted(0, 0);
}
