using System.Net;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a target. While frozen it keeps every connection open
/// but stops relaying the target's bytes: a controller that is reachable and silent.
/// </summary>
internal sealed class FreezingProxy(IPEndPoint target) : LoopbackRelay(target)
{
    private volatile TaskCompletionSource _thawed = Thawed();

    public void Freeze() => _thawed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Thaw() => _thawed.TrySetResult();

    protected override async ValueTask BeforeRelayAsync(bool towardTarget, ReadOnlyMemory<byte> chunk)
    {
        if (!towardTarget)
        {
            await _thawed.Task.WaitAsync(Stopping.Token);
        }
    }

    private static TaskCompletionSource Thawed()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }
}
