using System.Threading.Tasks.Sources;
using NovaStor.Initiator.Queue;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Session;

/// <summary>
/// One namespace command in flight, pooled by the controller: the <see cref="IValueTaskSource{TResult}"/>
/// the caller awaits and the <see cref="ICommandSink"/> its queue slot reports to. The slot's
/// outcome arrives inline on the receive loop and is turned into an <see cref="NvmeResult"/>
/// there, so an I/O costs no async state machine and no allocation. A transport failure is
/// the only slow path: wait for the reconnect (or the controller-loss timeout), resend.
/// </summary>
internal sealed class IoRequest : IValueTaskSource<NvmeResult>, ICommandSink
{
    private readonly NvmeController _controller;
    private ManualResetValueTaskSourceCore<NvmeResult> _core;
    private SubmissionQueueEntry _command;
    private ReadOnlyMemory<byte> _dataOut;
    private Memory<byte> _dataIn;
    private CancellationToken _cancellation;
    private ControllerAssociation? _association;

    public IoRequest(NvmeController controller)
    {
        _controller = controller;
        // By default the caller's continuation goes to the thread pool; with inline completions
        // it runs on the queue thread that received the response (it must not block there).
        _core.RunContinuationsAsynchronously = !controller.Options.InlineCompletions;
    }

    public ValueTask<NvmeResult> Start(in SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, CancellationToken cancellationToken)
    {
        _command = command;
        _dataOut = dataOut;
        _dataIn = dataIn;
        _cancellation = cancellationToken;
        var task = new ValueTask<NvmeResult>(this, _core.Version);
        Submit();
        return task;
    }

    private void Submit()
    {
        var association = _controller.Current;
        if (association is null)
        {
            _ = ResubmitWhenLiveAsync();
            return;
        }

        _association = association;
        association.NextQueue().Issue(_command, _dataOut, _dataIn, this);
    }

    public void OnResponse(in CompletionQueueEntry completion) => _core.SetResult(NvmeResult.From(completion));

    public void OnFailure(Exception failure)
    {
        if (failure is NvmeTransportException && _controller.State != NvmeControllerState.Closed)
        {
            if (_association is { } association)
            {
                _controller.OnLost(association, failure);
            }

            _ = ResubmitWhenLiveAsync();
            return;
        }

        _core.SetException(failure);
    }

    /// <summary>Waits for a live association (throws <see cref="ControllerLostException"/> after the loss timeout), then resends.</summary>
    private async Task ResubmitWhenLiveAsync()
    {
        try
        {
            await _controller.WaitForLiveAsync(_cancellation).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ControllerLostException or ObjectDisposedException or OperationCanceledException)
        {
            _core.SetException(ex);
            return;
        }

        Submit();
    }

    public NvmeResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            _dataOut = default;
            _dataIn = default;
            _cancellation = default;
            _association = null;
            _controller.Return(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
