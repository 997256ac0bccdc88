using System.Reflection;
using NovaStor.Protocol;
using NovaStor.Target.Tests;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// The running target's ListenerControl (ANA state per port, stopping a listener). The type is
/// internal to NovaStor.Target, which opens its internals to Target.Tests but not to these tests,
/// so it is reached by reflection rather than by editing the target's project.
/// </summary>
internal sealed class TargetPorts(RunningTarget target)
{
    private static readonly Type ControlType = Type.GetType("NovaStor.Target.Hosting.ListenerControl, NovaStor.Target", throwOnError: true)!;

    private object Control => target.Services.GetService(ControlType) ?? throw new InvalidOperationException("the target registers no ListenerControl");

    /// <summary>Sets <paramref name="group"/>'s ANA state on port <paramref name="portId"/> (1-based, configuration order); false when unchanged.</summary>
    public bool SetAnaState(ushort portId, uint group, AnaState state) => (bool)Invoke("SetAnaState", portId, group, state)!;

    /// <summary>Stops port <paramref name="portId"/>'s listener and tears down its controllers.</summary>
    public Task StopListenerAsync(ushort portId) => (Task)Invoke("StopListenerAsync", portId)!;

    private object? Invoke(string method, params object[] arguments)
    {
        try
        {
            return ControlType.GetMethod(method, BindingFlags.Public | BindingFlags.Instance)!.Invoke(Control, arguments);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }
}

/// <summary>A relay that can drop every connection it carries, as a path whose network fails, and then carries new ones.</summary>
internal sealed class DroppingRelay(System.Net.IPEndPoint target) : LoopbackRelay(target)
{
    public void Drop() => CloseAll();

    protected override ValueTask BeforeRelayAsync(bool towardTarget, ReadOnlyMemory<byte> chunk) => ValueTask.CompletedTask;
}
