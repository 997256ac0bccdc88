using System.Globalization;
using System.Net;
using NovaStor.Protocol;
using NovaStor.Target.Core;

namespace NovaStor.Target.Hosting;

/// <summary>
/// The configured listeners as target ports: validated once at start-up, with a message naming
/// the setting that is wrong. Both Kestrel (which binds them) and the subsystem registry (which
/// reports them and holds their ANA states) use the same list.
/// </summary>
internal sealed class ListenerConfiguration
{
    private static readonly AnaState[] ConfigurableStates = [AnaState.Optimized, AnaState.NonOptimized, AnaState.Inaccessible, AnaState.PersistentLoss];

    public ListenerConfiguration(TargetOptions options, ExportsStore? exports = null)
    {
        var configured = options.Listeners.Count > 0
            ? options.Listeners
            : [new ListenerOptions { Address = options.ListenAddress, Port = options.Port }];
        string Setting(int index) => options.Listeners.Count > 0 ? $"NovaStor:Listeners:{index}" : "NovaStor";
        var ports = new List<TargetPort>();
        for (int i = 0; i < configured.Count; i++)
        {
            var listener = configured[i];
            string setting = Setting(i);
            string addressSetting = options.Listeners.Count > 0 ? $"{setting}:Address" : "NovaStor:ListenAddress";
            if (!IPAddress.TryParse(listener.Address, out var address))
            {
                throw new InvalidOperationException($"{addressSetting} '{listener.Address}' is not an IP address.");
            }

            if (listener.Port is < 1 or > 65535)
            {
                throw new InvalidOperationException($"{setting}:Port {listener.Port} is outside 1..65535.");
            }

            if (ports.Any(p => p.Overlaps(address, listener.Port)))
            {
                throw new InvalidOperationException($"{setting}: {listener.Address}:{listener.Port} overlaps another listener.");
            }

            ports.Add(new TargetPort((ushort)(i + 1), address, listener.Port, AnaStates(listener, setting)));
        }

        if (exports is not null)
        {
            AddStored(ports, exports.Current);
        }

        Ports = ports;
    }

    /// <summary>
    /// The listeners the control plane added, and the ANA states it set (which win over the
    /// configured ones: they are the operator's latest word). A stored listener that now overlaps a
    /// configured one is left to the configuration.
    /// </summary>
    private static void AddStored(List<TargetPort> ports, ExportsDocument stored)
    {
        foreach (var listener in stored.Listeners)
        {
            var address = IPAddress.Parse(listener.Address);
            if (ports.Any(p => p.Overlaps(address, listener.Port)))
            {
                continue;
            }

            // Keep the stored PORTID unless the configuration now uses it.
            ushort id = ports.Any(p => p.Id == listener.Id) ? (ushort)(ports.Max(p => p.Id) + 1) : listener.Id;
            ports.Add(new TargetPort(id, address, listener.Port) { IsStatic = false });
        }

        foreach (var ana in stored.AnaStates)
        {
            var address = IPAddress.Parse(ana.Address);
            var port = ports.Find(p => p.Port == ana.Port && p.Address.Equals(address));
            port?.SetState(ana.Group, Enum.Parse<AnaState>(ana.State));
        }
    }

    public IReadOnlyList<TargetPort> Ports { get; }

    private static Dictionary<uint, AnaState> AnaStates(ListenerOptions listener, string setting)
    {
        var states = new Dictionary<uint, AnaState>();
        foreach (var (key, value) in listener.AnaStates)
        {
            if (!uint.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out uint group) || group is 0 or > TargetPort.MaxAnaGroups)
            {
                throw new InvalidOperationException($"{setting}:AnaStates: '{key}' is not an ANA group id (1..{TargetPort.MaxAnaGroups}).");
            }

            if (!Enum.TryParse(value, ignoreCase: true, out AnaState state) || !ConfigurableStates.Contains(state) || int.TryParse(value, out _))
            {
                throw new InvalidOperationException($"{setting}:AnaStates:{key} '{value}' is not an ANA state: use {string.Join(", ", ConfigurableStates)}.");
            }

            states[group] = state;
        }

        return states;
    }
}
