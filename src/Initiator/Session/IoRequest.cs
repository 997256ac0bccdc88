using System.Threading.Tasks.Sources;
using NovaStor.Initiator.Queue;
using NovaStor.Protocol;

namespace NovaStor.Initiator.Session;

/// <summary>
/// One namespace command in flight, pooled by the controller: the <see cref="IValueTaskSource{TResult}"/>
/// the caller awaits and the <see cref="ICommandSink"/> its queue slot reports to. The slot's
/// outcome arrives inline on the receive loop and is turned into an <see cref="NvmeResult"/>
/// there, so an I/O costs no async state machine and no allocation. Two slow paths, both on the
/// thread pool: a path status (SCT 3 without DNR) and a transport failure. Either sends the
/// command again on another usable path (the failed one has meanwhile taken the state the status
/// reports, or is reconnecting), or waits for a usable path to reconnect.
/// </summary>
internal sealed class IoRequest : IValueTaskSource<NvmeResult>, ICommandSink, IThreadPoolWorkItem
{
    // Resends after path statuses, per command: enough to try every path of any sane subsystem
    // a few times while ANA states settle, and a bound should two paths keep contradicting each other.
    private const int MaxPathRetries = 16;

    private readonly NvmeController _controller;
    private ManualResetValueTaskSourceCore<NvmeResult> _core;
    private NvmeNamespace? _namespace;
    private SubmissionQueueEntry _command;
    private ReadOnlyMemory<byte> _dataOut;
    private Memory<byte> _dataIn;
    private CancellationToken _cancellation;
    private NvmePath? _path;
    private ControllerAssociation? _association;
    private int _pathRetries;
    private NvmeResult _pathResult;

    public IoRequest(NvmeController controller)
    {
        _controller = controller;
        // By default the caller's continuation goes to the thread pool; with inline completions
        // it runs on the queue thread that received the response (it must not block there).
        _core.RunContinuationsAsynchronously = !controller.Options.InlineCompletions;
    }

    public ValueTask<NvmeResult> Start(NvmeNamespace ns, in SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, CancellationToken cancellationToken)
    {
        _namespace = ns;
        _command = command;
        _dataOut = dataOut;
        _dataIn = dataIn;
        _cancellation = cancellationToken;
        var task = new ValueTask<NvmeResult>(this, _core.Version);
        Submit();
        return task;
    }

    /// <summary>The hot path: the namespace's current best connected path, its next queue.</summary>
    private void Submit()
    {
        var path = _namespace!.Paths.SelectLive();
        var association = path?.Current;
        if (association is null)
        {
            _ = WaitForPathAsync();
            return;
        }

        _path = path;
        _association = association;
        association.NextQueue().Issue(_command, _dataOut, _dataIn, this);
    }

    public void OnResponse(in CompletionQueueEntry completion)
    {
        var status = completion.Status;
        if (status.CodeType == StatusCodeType.PathRelated && !status.DoNotRetry && _pathRetries < MaxPathRetries
            && _path is { } path && _controller.State != NvmeControllerState.Closed)
        {
            // The path says it cannot serve this namespace now: learn that, then try elsewhere.
            _pathRetries++;
            _pathResult = NvmeResult.From(completion);
            path.OnPathStatus(_command.NamespaceId, status);
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            return;
        }

        _core.SetResult(NvmeResult.From(completion));
    }

    public void OnFailure(Exception failure)
    {
        if (failure is NvmeTransportException && _controller.State != NvmeControllerState.Closed)
        {
            _path?.OnLost(_association!, failure);
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            return;
        }

        _core.SetException(failure);
    }

    /// <summary>A resend after a path status or a lost connection, off the receive loop.</summary>
    void IThreadPoolWorkItem.Execute() => _ = WaitForPathAsync();

    /// <summary>
    /// Sends the command on a connected usable path, waiting for one while a usable path is
    /// reconnecting. With no usable path left: the path status (the last one a path answered, or
    /// the one the paths' ANA states imply) while some path is connected, else
    /// <see cref="ControllerLostException"/> (every path past its controller-loss timeout).
    /// </summary>
    private async Task WaitForPathAsync()
    {
        try
        {
            while (true)
            {
                var change = _controller.NextChange;
                if (_controller.State == NvmeControllerState.Closed)
                {
                    throw new ObjectDisposedException(nameof(NvmeController), $"the controller of {_controller.SubsystemNqn} was disconnected");
                }

                var paths = _namespace!.Paths;
                if (paths.SelectLive() is { Current: { } association } path)
                {
                    _path = path;
                    _association = association;
                    association.NextQueue().Issue(_command, _dataOut, _dataIn, this);
                    return;
                }

                if (!paths.AnyUsableMayReturn())
                {
                    if (AnyConnected(paths.Members))
                    {
                        _core.SetResult(_pathResult.IsSuccess ? new NvmeResult(paths.UnusableStatus) : _pathResult);
                        return;
                    }

                    throw _controller.LostException();
                }

                await change.WaitAsync(_cancellation).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is ControllerLostException or ObjectDisposedException or OperationCanceledException)
        {
            _core.SetException(ex);
        }
    }

    private static bool AnyConnected(NvmePath[] paths)
    {
        foreach (var path in paths)
        {
            if (path.Current is not null)
            {
                return true;
            }
        }

        return false;
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
            _namespace = null;
            _dataOut = default;
            _dataIn = default;
            _cancellation = default;
            _path = null;
            _association = null;
            _pathRetries = 0;
            _pathResult = default;
            _controller.Return(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
