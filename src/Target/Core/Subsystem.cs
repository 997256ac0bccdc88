namespace NovaStor.Target.Core;

/// <summary>
/// An NVM subsystem (or the discovery subsystem): its namespaces, which hosts it admits, and
/// its live controllers. Namespaces are fixed at construction, so the I/O path reads them
/// without a lock; the controller table is touched only by Connect and teardown.
/// </summary>
internal sealed class Subsystem
{
    /// <summary>The well-known NQN of the discovery subsystem.</summary>
    public const string DiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

    /// <summary>Controller IDs 0xFFF0..0xFFFF are reserved; 0 is avoided as the Linux target does.</summary>
    private const ushort MaxControllerId = 0xFFEF;

    private readonly Namespace?[] _namespacesById;
    private readonly HashSet<string> _allowedHosts;
    private readonly Dictionary<ushort, Controller> _controllers = [];
    private readonly Lock _controllersLock = new();
    private ushort _nextControllerId = 1;

    public Subsystem(string nqn, bool allowAnyHost, IEnumerable<string> allowedHosts, IReadOnlyList<Namespace> namespaces, bool isDiscovery = false)
    {
        Nqn = nqn;
        AllowAnyHost = allowAnyHost;
        IsDiscovery = isDiscovery;
        _allowedHosts = new HashSet<string>(allowedHosts, StringComparer.Ordinal);
        Namespaces = [.. namespaces.OrderBy(n => n.Id)];
        uint highest = Namespaces.Count == 0 ? 0 : Namespaces[^1].Id;
        _namespacesById = new Namespace?[highest + 1];
        foreach (var ns in Namespaces)
        {
            if (ns.Id == 0 || _namespacesById[ns.Id] is not null)
            {
                throw new ArgumentException($"Subsystem {nqn}: namespace id {ns.Id} is zero or used twice.", nameof(namespaces));
            }

            _namespacesById[ns.Id] = ns;
        }

        SerialNumber = Identity.SerialNumber(nqn);
    }

    public string Nqn { get; }
    public bool AllowAnyHost { get; }
    public bool IsDiscovery { get; }
    public string SerialNumber { get; }

    /// <summary>Active namespaces, sorted by id.</summary>
    public IReadOnlyList<Namespace> Namespaces { get; }

    /// <summary>NN: the highest namespace id the subsystem may use.</summary>
    public const uint MaxNamespaces = 1024;

    public IReadOnlyCollection<string> AllowedHosts => _allowedHosts;

    public bool Admits(string hostNqn) => AllowAnyHost || _allowedHosts.Contains(hostNqn);

    /// <summary>The active namespace with this id, or null.</summary>
    public Namespace? FindNamespace(uint id) => id < (uint)_namespacesById.Length ? _namespacesById[id] : null;

    /// <summary>Creates a controller with a controller id unused in this subsystem, or null when all are taken.</summary>
    public Controller? CreateController(Func<ushort, Controller> create)
    {
        lock (_controllersLock)
        {
            for (int attempt = 0; attempt < MaxControllerId; attempt++)
            {
                ushort id = _nextControllerId;
                _nextControllerId = id >= MaxControllerId ? (ushort)1 : (ushort)(id + 1);
                if (!_controllers.ContainsKey(id))
                {
                    var controller = create(id);
                    _controllers.Add(id, controller);
                    return controller;
                }
            }

            return null;
        }
    }

    public Controller? FindController(ushort id)
    {
        lock (_controllersLock)
        {
            return _controllers.GetValueOrDefault(id);
        }
    }

    /// <summary>The IDs of the controllers that exist now, ascending (Identify CNS 12h/13h).</summary>
    public ushort[] ControllerIds()
    {
        lock (_controllersLock)
        {
            var ids = _controllers.Keys.ToArray();
            Array.Sort(ids);
            return ids;
        }
    }

    /// <summary>The controllers of one host (by host identifier), ascending by id: a reservation notice goes to each.</summary>
    public Controller[] ControllersOf(Guid hostId)
    {
        lock (_controllersLock)
        {
            return [.. _controllers.Values.Where(c => c.HostId == hostId).OrderBy(c => c.Id)];
        }
    }

    /// <summary>The controllers whose admin queue came through port <paramref name="portId"/>.</summary>
    public Controller[] ControllersOnPort(ushort portId)
    {
        lock (_controllersLock)
        {
            return [.. _controllers.Values.Where(c => c.PortId == portId)];
        }
    }

    public void RemoveController(Controller controller)
    {
        lock (_controllersLock)
        {
            if (_controllers.TryGetValue(controller.Id, out var current) && ReferenceEquals(current, controller))
            {
                _controllers.Remove(controller.Id);
            }
        }
    }

    public int ControllerCount
    {
        get
        {
            lock (_controllersLock)
            {
                return _controllers.Count;
            }
        }
    }
}
