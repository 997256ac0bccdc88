using System.Net;
using NovaStor.Protocol;

namespace NovaStor.Target.Core;

/// <summary>
/// One port of the target (a listener: address and TCP port) and the ANA state of every ANA
/// group on it, as the Linux target's nvmet_port holds them. The states are an immutable array
/// swapped on change, so the I/O path reads a group's state with one load and no lock.
/// </summary>
internal sealed class TargetPort
{
    /// <summary>ANAGRPMAX and NANAGRPID: ANA group ids run from 1 to this.</summary>
    public const uint MaxAnaGroups = 32;

    private AnaState[] _states;

    /// <param name="states">The groups whose state is not Optimized on this port.</param>
    public TargetPort(ushort id, IPAddress address, int port, IReadOnlyDictionary<uint, AnaState>? states = null)
    {
        Id = id;
        Address = address;
        Port = port;
        _states = new AnaState[MaxAnaGroups + 1];
        Array.Fill(_states, AnaState.Optimized);
        foreach (var (group, state) in states ?? new Dictionary<uint, AnaState>())
        {
            _states[group] = state;
        }
    }

    /// <summary>PORTID in discovery log entries; 1-based, in configuration order.</summary>
    public ushort Id { get; }

    public IPAddress Address { get; }

    /// <summary>The TCP port; 0 matches any (a registry built without configuration, in tests).</summary>
    public int Port { get; }

    public bool IsWildcard => Address.Equals(IPAddress.Any) || Address.Equals(IPAddress.IPv6Any);

    /// <summary>Defined in the configuration: the control plane sets its ANA states but does not remove it.</summary>
    public bool IsStatic { get; init; } = true;

    /// <summary>Set once the listener has stopped: discovery no longer lists it.</summary>
    public bool IsStopped { get; set; }

    /// <summary>The state of an ANA group (1..<see cref="MaxAnaGroups"/>) on this port.</summary>
    public AnaState StateOf(uint group) => Volatile.Read(ref _states)[group];

    /// <summary>Changes one group's state; false when it already had it.</summary>
    internal bool SetState(uint group, AnaState state)
    {
        var current = Volatile.Read(ref _states);
        if (current[group] == state)
        {
            return false;
        }

        var next = (AnaState[])current.Clone();
        next[group] = state;
        Volatile.Write(ref _states, next);
        return true;
    }

    /// <summary>Whether a listener at <paramref name="address"/>:<paramref name="port"/> would take connections this one takes (same port, same address, or either a wildcard).</summary>
    public bool Overlaps(IPAddress address, int port) =>
        Port == port && (Address.Equals(address) || IsWildcard || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any));

    /// <summary>Whether a connection accepted at <paramref name="local"/> came through this port.</summary>
    public bool Accepted(IPEndPoint local)
    {
        if (Port != 0 && local.Port != Port)
        {
            return false;
        }

        var address = local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address;
        return Port == 0 || IsWildcard || address.Equals(Address);
    }
}
