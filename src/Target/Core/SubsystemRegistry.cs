using System.Collections.Frozen;

namespace NovaStor.Target.Core;

/// <summary>
/// All subsystems a target serves, plus the discovery subsystem, and its ports. Both sets change
/// at runtime (the control plane) by swapping immutable snapshots under <see cref="_changeLock"/>;
/// Connect, discovery and the accept path read them without a lock.
/// </summary>
internal sealed class SubsystemRegistry
{
    private volatile FrozenDictionary<string, Subsystem> _byNqn;
    private volatile IReadOnlyList<Subsystem> _subsystems;
    private volatile IReadOnlyList<TargetPort> _ports;
    private readonly Lock _changeLock = new();

    private readonly Lock _anaLock = new();
    private ulong _anaChangeCount;

    /// <param name="advertisedAddress">What discovery log entries report as TRADDR instead of the listener's address; null: the listener's.</param>
    /// <param name="ports">The listeners; none: one that matches any connection (tests that build a registry alone).</param>
    /// <summary>Connection and controller limits, shared by the listeners and Connect.</summary>
    public Limits.AdmissionControl Admission { get; init; } = new(new TargetLimits(), TimeProvider.System);

    public SubsystemRegistry(IEnumerable<Subsystem> subsystems, System.Net.IPAddress? advertisedAddress = null, IReadOnlyList<TargetPort>? ports = null)
    {
        AdvertisedAddress = advertisedAddress;
        _ports = ports is { Count: > 0 } ? [.. ports] : [new TargetPort(1, System.Net.IPAddress.Any, 0)];
        Discovery = new Subsystem(Subsystem.DiscoveryNqn, allowAnyHost: true, [], [], isDiscovery: true);
        var byNqn = new Dictionary<string, Subsystem>(StringComparer.Ordinal) { [Discovery.Nqn] = Discovery };
        foreach (var subsystem in subsystems)
        {
            if (!byNqn.TryAdd(subsystem.Nqn, subsystem))
            {
                throw new ArgumentException($"Subsystem {subsystem.Nqn} is configured twice.", nameof(subsystems));
            }
        }

        (_byNqn, _subsystems) = Snapshot(byNqn);
    }

    private static (FrozenDictionary<string, Subsystem>, IReadOnlyList<Subsystem>) Snapshot(Dictionary<string, Subsystem> byNqn) =>
        (byNqn.ToFrozenDictionary(StringComparer.Ordinal), [.. byNqn.Values.Where(s => !s.IsDiscovery).OrderBy(s => s.Nqn, StringComparer.Ordinal)]);

    /// <summary>Serves a new subsystem: hosts can connect to it from now on, and discovery lists it.</summary>
    /// <exception cref="ArgumentException">The NQN is in use.</exception>
    public void Add(Subsystem subsystem)
    {
        lock (_changeLock)
        {
            var byNqn = new Dictionary<string, Subsystem>(_byNqn, StringComparer.Ordinal);
            if (!byNqn.TryAdd(subsystem.Nqn, subsystem))
            {
                throw new ArgumentException($"Subsystem {subsystem.Nqn} exists.", nameof(subsystem));
            }

            (_byNqn, _subsystems) = Snapshot(byNqn);
        }

        DiscoveryChanged();
    }

    /// <summary>Stops serving a subsystem to new connections (the caller tears down its controllers). Null when unknown.</summary>
    public Subsystem? Remove(string nqn)
    {
        Subsystem? removed;
        lock (_changeLock)
        {
            var byNqn = new Dictionary<string, Subsystem>(_byNqn, StringComparer.Ordinal);
            if (nqn == Subsystem.DiscoveryNqn || !byNqn.Remove(nqn, out removed))
            {
                return null;
            }

            (_byNqn, _subsystems) = Snapshot(byNqn);
        }

        DiscoveryChanged();
        return removed;
    }

    /// <summary>Adds a port (a listener about to be bound); discovery lists it once it is.</summary>
    public void AddPort(TargetPort port)
    {
        lock (_changeLock)
        {
            if (_ports.Any(p => p.Id == port.Id))
            {
                throw new ArgumentException($"Port id {port.Id} is in use.", nameof(port));
            }

            _ports = [.. _ports, port];
        }

        DiscoveryChanged();
    }

    /// <summary>Forgets a port (its listener was stopped first).</summary>
    public void RemovePort(ushort id)
    {
        lock (_changeLock)
        {
            _ports = [.. _ports.Where(p => p.Id != id)];
        }

        DiscoveryChanged();
    }

    /// <summary>A port id no port has now.</summary>
    public ushort NextPortId()
    {
        var ports = _ports;
        return (ushort)(ports.Count == 0 ? 1 : ports.Max(p => p.Id) + 1);
    }

    public Subsystem Discovery { get; }

    /// <summary>The configured address discovery entries point hosts at (TargetOptions.AdvertisedAddress), or null.</summary>
    public System.Net.IPAddress? AdvertisedAddress { get; }

    /// <summary>The NVM subsystems (not discovery), sorted by NQN (a snapshot).</summary>
    public IReadOnlyList<Subsystem> Subsystems => _subsystems;

    private ulong _discoveryGeneration = 1;

    /// <summary>
    /// Discovery log generation counter (GENCTR): it changes whenever the log's content does (a
    /// listener stopped), so a host that reads the log in pieces (libnvme rereads and compares it)
    /// never mixes two versions.
    /// </summary>
    public ulong DiscoveryGeneration => Interlocked.Read(ref _discoveryGeneration);

    /// <summary>The discovery log's content changed.</summary>
    public void DiscoveryChanged() => Interlocked.Increment(ref _discoveryGeneration);

    public Subsystem? Find(string nqn) => _byNqn.GetValueOrDefault(nqn);

    /// <summary>The target's ports (listeners): the configured ones in order (PORTID 1, 2, ...), then the ones added since (a snapshot).</summary>
    public IReadOnlyList<TargetPort> Ports => _ports;

    /// <summary>CHGCNT of the ANA log: counts every ANA state change on any port.</summary>
    public ulong AnaChangeCount => Interlocked.Read(ref _anaChangeCount);

    /// <summary>The port a connection accepted at <paramref name="local"/> came through (the first port when nothing matches).</summary>
    public TargetPort PortOf(System.Net.EndPoint? local) =>
        (local is System.Net.IPEndPoint ip ? Ports.FirstOrDefault(p => p.Accepted(ip)) : null) ?? Ports[0];

    public TargetPort? FindPort(ushort id) => Ports.FirstOrDefault(p => p.Id == id);

    /// <summary>
    /// Sets an ANA group's state on one port. Controllers connected through that port get the ANA
    /// change event (when they enabled it) and then read the new state from the ANA log; I/O to an
    /// inaccessible group fails with the ANA path status from now on. False when nothing changed.
    /// </summary>
    public bool SetAnaState(ushort portId, uint group, Protocol.AnaState state)
    {
        var port = FindPort(portId) ?? throw new ArgumentException($"There is no port {portId}.", nameof(portId));
        if (group is 0 or > TargetPort.MaxAnaGroups)
        {
            throw new ArgumentOutOfRangeException(nameof(group), group, $"ANA groups are 1..{TargetPort.MaxAnaGroups}.");
        }

        lock (_anaLock)
        {
            if (!port.SetState(group, state))
            {
                return false;
            }

            Interlocked.Increment(ref _anaChangeCount);
        }

        foreach (var subsystem in Subsystems)
        {
            foreach (var controller in subsystem.ControllersOnPort(portId))
            {
                controller.NotifyAnaChange();
            }
        }

        return true;
    }
}
