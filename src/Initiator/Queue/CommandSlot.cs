using System.Threading.Tasks.Sources;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Queue;

/// <summary>
/// One entry of a queue's command table: its index is the CID. The same object is the
/// <see cref="IValueTaskSource{TResult}"/> behind every command that uses the slot, so
/// submitting and completing a command allocates nothing.
/// </summary>
/// <remarks>
/// A slot is handed out again only when two things have happened: the controller answered
/// (or the connection ended, so it never will) and the submitter consumed the result. Until
/// the first, the CID is still live on the wire and reusing it would let a late response
/// complete the wrong command; until the second, the result has not been read yet.
/// </remarks>
internal sealed class CommandSlot : IValueTaskSource<CompletionQueueEntry>
{
    private const int ResponseHold = 1, ResultHold = 1;

    private readonly CommandTable _table;
    private ManualResetValueTaskSourceCore<CompletionQueueEntry> _core;
    private CancellationTokenRegistration _cancellation;
    private int _holds;
    private int _resultSet;
    private int _awaitingResponse;
    private volatile bool _abandoned;
    private ICommandSink? _sink;

    public CommandSlot(CommandTable table, ushort commandId, bool runContinuationsAsynchronously)
    {
        _table = table;
        CommandId = commandId;
        // Completions are handled on the receive side: by default the submitter's continuation
        // goes to the thread pool; with inline completions it runs right there.
        _core.RunContinuationsAsynchronously = runContinuationsAsynchronously;
    }

    public ushort CommandId { get; }

    /// <summary>Data the command sends (in-capsule or by R2T/H2CData).</summary>
    public ReadOnlyMemory<byte> DataOut { get; private set; }

    /// <summary>Where C2HData lands.</summary>
    public Memory<byte> DataIn { get; private set; }

    /// <summary>The submitter stopped waiting (cancellation): its buffer is no longer ours to write.</summary>
    public bool Abandoned => _abandoned;

    /// <summary>True from submission until the controller answers or the connection fails.</summary>
    public bool AwaitingResponse => Volatile.Read(ref _awaitingResponse) != 0;

    public short Version => _core.Version;

    /// <summary><see cref="System.Diagnostics.Stopwatch"/> timestamp of the submission, for the I/O timeout watchdog.</summary>
    public long IssuedAt { get; private set; }

    /// <summary>
    /// Prepares the slot for a command; called under the table lock. With a
    /// <paramref name="sink"/>, the outcome goes to it and nobody awaits the slot.
    /// </summary>
    public void Arm(ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, ICommandSink? sink = null)
    {
        DataOut = dataOut;
        DataIn = dataIn;
        _abandoned = false;
        _resultSet = 0;
        _sink = sink;
        _holds = sink is null ? ResponseHold + ResultHold : ResponseHold;
        IssuedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        Volatile.Write(ref _awaitingResponse, 1);
    }

    /// <summary>Undoes <see cref="Arm"/> for a slot that was never used; called under the table lock.</summary>
    public void Disarm()
    {
        DataOut = default;
        DataIn = default;
        _sink = null;
        Volatile.Write(ref _awaitingResponse, 0);
    }

    /// <summary>Lets <paramref name="token"/> fail the wait; the slot stays busy until the response arrives.</summary>
    public void WatchCancellation(CancellationToken token)
    {
        if (token.CanBeCanceled)
        {
            _cancellation = token.UnsafeRegister(static (state, t) => ((CommandSlot)state!).Cancel(t), this);
        }
    }

    /// <summary>The controller answered: the CapsuleResp, or a C2HData with SUCCESS.</summary>
    public void Respond(in CompletionQueueEntry completion)
    {
        if (Interlocked.Exchange(ref _awaitingResponse, 0) == 0)
        {
            return;
        }

        if (_sink is { } sink)
        {
            // Free the slot first: the sink may issue its next command at once.
            Release();
            sink.OnResponse(completion);
            return;
        }

        _cancellation.Unregister();
        if (Interlocked.Exchange(ref _resultSet, 1) == 0)
        {
            // The response hold goes first: an inline continuation that reads the result frees
            // the slot at once and may rent it again for its next command.
            Release();
            _core.SetResult(completion);
            return;
        }

        Release();
    }

    /// <summary>The connection ended before the controller answered.</summary>
    public void Fail(Exception failure)
    {
        if (Interlocked.Exchange(ref _awaitingResponse, 0) == 0)
        {
            return;
        }

        if (_sink is { } sink)
        {
            Release();
            sink.OnFailure(failure);
            return;
        }

        _cancellation.Unregister();
        if (Interlocked.Exchange(ref _resultSet, 1) == 0)
        {
            // The response hold goes first: an inline continuation that reads the result frees
            // the slot at once and may rent it again for its next command.
            Release();
            _core.SetException(failure);
            return;
        }

        Release();
    }

    private void Cancel(CancellationToken token)
    {
        _abandoned = true;
        if (Interlocked.Exchange(ref _resultSet, 1) == 0)
        {
            _core.SetException(new OperationCanceledException(token));
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _holds) == 0)
        {
            DataOut = default;
            DataIn = default;
            _cancellation = default;
            if (_sink is null)
            {
                _core.Reset();
            }

            _sink = null;
            _table.Return(this);
        }
    }

    public CompletionQueueEntry GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Release();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
