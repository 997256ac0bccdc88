namespace NovaStor.Initiator.Tests;

/// <summary>A relay that can drop every connection it carries, as a path whose network fails, and then carries new ones.</summary>
internal sealed class DroppingRelay(System.Net.IPEndPoint target) : LoopbackRelay(target)
{
    public void Drop() => CloseAll();

    protected override ValueTask BeforeRelayAsync(bool towardTarget, ReadOnlyMemory<byte> chunk) => ValueTask.CompletedTask;
}
