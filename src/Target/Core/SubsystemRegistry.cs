namespace NovaStor.Target.Core;

/// <summary>All subsystems a target serves, plus the discovery subsystem.</summary>
internal sealed class SubsystemRegistry
{
    private readonly Dictionary<string, Subsystem> _byNqn = new(StringComparer.Ordinal);

    private readonly Lock _anaLock = new();
    private ulong _anaChangeCount;

    /// <param name="advertisedAddress">What discovery log entries report as TRADDR instead of the listener's address; null: the listener's.</param>
    /// <param name="ports">The listeners; none: one that matches any connection (tests that build a registry alone).</param>
    public SubsystemRegistry(IEnumerable<Subsystem> subsystems, System.Net.IPAddress? advertisedAddress = null, IReadOnlyList<TargetPort>? ports = null)
    {
        AdvertisedAddress = advertisedAddress;
        Ports = ports is { Count: > 0 } ? ports : [new TargetPort(1, System.Net.IPAddress.Any, 0)];
        Discovery = new Subsystem(Subsystem.DiscoveryNqn, allowAnyHost: true, [], [], isDiscovery: true);
        _byNqn.Add(Discovery.Nqn, Discovery);
        foreach (var subsystem in subsystems)
        {
            if (!_byNqn.TryAdd(subsystem.Nqn, subsystem))
            {
                throw new ArgumentException($"Subsystem {subsystem.Nqn} is configured twice.", nameof(subsystems));
            }
        }

        Subsystems = [.. _byNqn.Values.Where(s => !s.IsDiscovery).OrderBy(s => s.Nqn, StringComparer.Ordinal)];
    }

    public Subsystem Discovery { get; }

    /// <summary>The configured address discovery entries point hosts at (TargetOptions.AdvertisedAddress), or null.</summary>
    public System.Net.IPAddress? AdvertisedAddress { get; }

    /// <summary>The NVM subsystems (not discovery), sorted by NQN.</summary>
    public IReadOnlyList<Subsystem> Subsystems { get; }

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

    /// <summary>The target's ports (listeners), in configuration order (PORTID 1, 2, ...).</summary>
    public IReadOnlyList<TargetPort> Ports { get; }

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
