using System.Collections.Frozen;
using NovaStor.Target.Core.Authentication;

namespace NovaStor.Target.Core;

/// <summary>
/// An NVM subsystem (or the discovery subsystem): its namespaces, which hosts it admits, and
/// its live controllers. The namespaces and the admitted hosts change at runtime (the control
/// plane) by swapping immutable snapshots, so the I/O path and Connect read them without a lock;
/// changes are serialised by <see cref="_changeLock"/>. The controller table is touched only by
/// Connect and teardown.
/// </summary>
internal sealed class Subsystem
{
    /// <summary>The well-known NQN of the discovery subsystem.</summary>
    public const string DiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

    /// <summary>Controller IDs 0xFFF0..0xFFFF are reserved; 0 is avoided as the Linux target does.</summary>
    private const ushort MaxControllerId = 0xFFEF;

    /// <summary>The namespaces, by id (index 0 unused) and sorted: replaced whole on every change.</summary>
    private sealed record NamespaceTable(Namespace?[] ById, IReadOnlyList<Namespace> Sorted);

    private volatile NamespaceTable _namespaces;
    private volatile FrozenSet<string> _allowedHosts;
    private volatile bool _allowAnyHost;
    // Hosts that must authenticate (DH-HMAC-CHAP), by host NQN; each is admitted.
    private volatile FrozenDictionary<string, HostCredentials> _credentials;
    // The ports (listener ids) it is served on; null: every port of the target.
    private volatile FrozenSet<ushort>? _portIds;
    private readonly Lock _changeLock = new();
    private readonly Dictionary<ushort, Controller> _controllers = [];
    private readonly Lock _controllersLock = new();
    private ushort _nextControllerId = 1;

    public Subsystem(string nqn, bool allowAnyHost, IEnumerable<string> allowedHosts, IReadOnlyList<Namespace> namespaces, bool isDiscovery = false,
        string? serialNumber = null, string? modelNumber = null, bool isStatic = true, IReadOnlyDictionary<string, HostCredentials>? credentials = null)
    {
        _credentials = (credentials ?? new Dictionary<string, HostCredentials>()).ToFrozenDictionary(StringComparer.Ordinal);
        Nqn = nqn;
        _allowAnyHost = allowAnyHost;
        IsDiscovery = isDiscovery;
        IsStatic = isStatic;
        _allowedHosts = allowedHosts.ToFrozenSet(StringComparer.Ordinal);
        _namespaces = Table(nqn, namespaces);
        SerialNumber = string.IsNullOrEmpty(serialNumber) ? Identity.SerialNumber(nqn) : serialNumber;
        ModelNumber = string.IsNullOrEmpty(modelNumber) ? IdentifyData.ModelNumber : modelNumber;
    }

    private static NamespaceTable Table(string nqn, IEnumerable<Namespace> namespaces)
    {
        var sorted = namespaces.OrderBy(n => n.Id).ToArray();
        uint highest = sorted.Length == 0 ? 0 : sorted[^1].Id;
        var byId = new Namespace?[highest + 1];
        foreach (var ns in sorted)
        {
            if (ns.Id == 0 || ns.Id > MaxNamespaces || byId[ns.Id] is not null)
            {
                throw new ArgumentException($"Subsystem {nqn}: namespace id {ns.Id} is zero, above {MaxNamespaces} or used twice.", nameof(namespaces));
            }

            byId[ns.Id] = ns;
        }

        return new NamespaceTable(byId, sorted);
    }

    public string Nqn { get; }
    public bool AllowAnyHost => _allowAnyHost;
    public bool IsDiscovery { get; }
    public string SerialNumber { get; }
    public string ModelNumber { get; }

    /// <summary>Defined in the configuration file (or the embedded default): the control plane does not change it.</summary>
    public bool IsStatic { get; }

    /// <summary>Active namespaces, sorted by id (a snapshot: a change replaces it).</summary>
    public IReadOnlyList<Namespace> Namespaces => _namespaces.Sorted;

    /// <summary>NN: the highest namespace id the subsystem may use.</summary>
    public const uint MaxNamespaces = 1024;

    public IReadOnlyCollection<string> AllowedHosts => _allowedHosts;

    public bool Admits(string hostNqn) => _allowAnyHost || _allowedHosts.Contains(hostNqn) || _credentials.ContainsKey(hostNqn);

    /// <summary>The hosts that must authenticate, with their DH-HMAC-CHAP credentials.</summary>
    public IReadOnlyDictionary<string, HostCredentials> AuthenticatedHosts => _credentials;

    /// <summary>The DH-HMAC-CHAP credentials of a host that must authenticate, or null when it need not.</summary>
    public HostCredentials? CredentialsOf(string hostNqn) => _credentials.GetValueOrDefault(hostNqn);

    /// <summary>The active namespace with this id, or null.</summary>
    public Namespace? FindNamespace(uint id)
    {
        var byId = _namespaces.ById;
        return id < (uint)byId.Length ? byId[id] : null;
    }

    /// <summary>
    /// Makes <paramref name="ns"/> active. Commands for its NSID find it from now on; the caller
    /// tells the controllers (<see cref="NotifyNamespaceChanged"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The id is in use, zero or above <see cref="MaxNamespaces"/>.</exception>
    public void AddNamespace(Namespace ns)
    {
        lock (_changeLock)
        {
            _namespaces = Table(Nqn, _namespaces.Sorted.Append(ns));
        }
    }

    /// <summary>Deactivates a namespace: commands received from now on get Invalid Namespace. Null when there was none.</summary>
    public Namespace? RemoveNamespace(uint id)
    {
        lock (_changeLock)
        {
            var removed = FindNamespace(id);
            if (removed is not null)
            {
                _namespaces = Table(Nqn, _namespaces.Sorted.Where(n => n.Id != id));
            }

            return removed;
        }
    }

    /// <summary>
    /// Changes which hosts may connect from now on, and which of them must authenticate with what;
    /// connected controllers stay (the caller disconnects them if asked) with the session they have.
    /// </summary>
    public void SetAdmittedHosts(bool allowAnyHost, IEnumerable<string> allowedHosts, IReadOnlyDictionary<string, HostCredentials> credentials)
    {
        lock (_changeLock)
        {
            _credentials = credentials.ToFrozenDictionary(StringComparer.Ordinal);
            _allowedHosts = allowedHosts.ToFrozenSet(StringComparer.Ordinal);
            _allowAnyHost = allowAnyHost;
        }
    }

    /// <summary>The listeners it is served on (null: every one); Connect and discovery read it.</summary>
    public IReadOnlyCollection<ushort>? PortIds => _portIds;

    /// <summary>True when hosts may connect to it through port <paramref name="portId"/>.</summary>
    public bool ServedOn(ushort portId) => _portIds is not { } ids || ids.Contains(portId);

    /// <summary>Serves it on these ports only from now on (null: on every port); the caller tears down controllers on ports it left.</summary>
    public void SetPorts(IEnumerable<ushort>? portIds)
    {
        lock (_changeLock)
        {
            _portIds = portIds?.ToFrozenSet();
        }
    }

    /// <summary>A namespace was added, removed or resized: every controller gets the Namespace Attribute Changed notice.</summary>
    public void NotifyNamespaceChanged(uint namespaceId)
    {
        Controller[] controllers;
        lock (_controllersLock)
        {
            controllers = [.. _controllers.Values];
        }

        foreach (var controller in controllers)
        {
            controller.NotifyNamespaceChanged(namespaceId);
        }
    }

    /// <summary>Every controller, ascending by id.</summary>
    public Controller[] Controllers()
    {
        lock (_controllersLock)
        {
            return [.. _controllers.Values.OrderBy(c => c.Id)];
        }
    }

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
