namespace NovaStor.Target.Core;

/// <summary>All subsystems a target serves, plus the discovery subsystem.</summary>
internal sealed class SubsystemRegistry
{
    private readonly Dictionary<string, Subsystem> _byNqn = new(StringComparer.Ordinal);

    /// <param name="advertisedAddress">What discovery log entries report as TRADDR instead of the listener's address; null: the listener's.</param>
    public SubsystemRegistry(IEnumerable<Subsystem> subsystems, System.Net.IPAddress? advertisedAddress = null)
    {
        AdvertisedAddress = advertisedAddress;
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

    /// <summary>
    /// Discovery log generation counter. Subsystems are fixed for the life of the registry, so
    /// it never changes between the reads of one discovery (libnvme rereads and compares it).
    /// </summary>
    public ulong DiscoveryGeneration => 1;

    public Subsystem? Find(string nqn) => _byNqn.GetValueOrDefault(nqn);
}
