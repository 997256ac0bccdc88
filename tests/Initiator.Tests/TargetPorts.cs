using Microsoft.Extensions.DependencyInjection;
using NovaStor.Protocol;
using NovaStor.Target.Hosting;
using NovaStor.Target.Tests;

namespace NovaStor.Initiator.Tests;

/// <summary>The running target's ListenerControl: ANA state per port, stopping a listener.</summary>
internal sealed class TargetPorts(RunningTarget target)
{
    private ListenerControl Control => target.Services.GetRequiredService<ListenerControl>();

    /// <summary>Sets <paramref name="group"/>'s ANA state on port <paramref name="portId"/> (1-based, configuration order); false when unchanged.</summary>
    public bool SetAnaState(ushort portId, uint group, AnaState state) => Control.SetAnaState(portId, group, state);

    /// <summary>Stops port <paramref name="portId"/>'s listener and tears down its controllers.</summary>
    public Task StopListenerAsync(ushort portId) => Control.StopListenerAsync(portId);
}
