using System.Net;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of a target that reads the host's bytes slowly: a small
/// receive buffer on the host's side, and a pause after every <c>burst</c> bytes relayed toward
/// the target. The host's socket send buffer fills, so its sends come back short or would block,
/// and the rest must follow in order. The target's bytes flow back freely.
/// </summary>
internal sealed class ThrottlingProxy(IPEndPoint target, int burst = 256 * 1024, TimeSpan? pause = null)
    : LoopbackRelay(target, hostReceiveBuffer: 16 * 1024)
{
    private readonly TimeSpan _pause = pause ?? TimeSpan.FromMilliseconds(20);
    private long _sinceLastPause;

    protected override int ChunkBytes(bool towardTarget) => towardTarget ? 4096 : 64 * 1024;

    protected override async ValueTask BeforeRelayAsync(bool towardTarget, ReadOnlyMemory<byte> chunk)
    {
        // Counted over every host connection: the relay as a whole reads slowly.
        if (towardTarget && Interlocked.Add(ref _sinceLastPause, chunk.Length) >= burst)
        {
            Interlocked.Exchange(ref _sinceLastPause, 0);
            await Task.Delay(_pause, Stopping.Token);
        }
    }
}
