using Grpc.Core;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Authentication;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.ControlPlane;

/// <summary>Subsystems, their namespaces and hosts: exports.json first, then the running target.</summary>
internal sealed partial class NodeState
{
    private const int SerialNumberLength = 20;
    private const int ModelNumberLength = 40;

    public Task<Subsystem> CreateSubsystemAsync(string nqn, string serial, string model, bool allowAnyHost, IReadOnlyList<string> hosts, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            if (NqnRules.Problem(nqn) is { } problem)
            {
                throw Refused(StatusCode.InvalidArgument, problem + ".");
            }

            if (nqn == Subsystem.DiscoveryNqn)
            {
                throw Refused(StatusCode.InvalidArgument, $"{nqn} is the discovery subsystem's NQN; choose another.");
            }

            RequireIdentifyText("serial number", serial, SerialNumberLength);
            RequireIdentifyText("model number", model, ModelNumberLength);
            string[] allowed = [.. hosts.Distinct(StringComparer.Ordinal)];
            RequireHostNqns(allowed);
            if (registry.Find(nqn) is not null)
            {
                throw Refused(StatusCode.AlreadyExists, $"Subsystem {nqn} exists.");
            }

            var stored = new ExportedSubsystem(nqn, NullIfEmpty(serial), NullIfEmpty(model), allowAnyHost, allowed, []);
            exports.Save(WithSubsystem(nqn, stored));
            var subsystem = new Subsystem(nqn, allowAnyHost, allowed, [], serialNumber: stored.SerialNumber, modelNumber: stored.ModelNumber, isStatic: false);
            registry.Add(subsystem);
            ChangeLog.Changed(logger, $"created subsystem {nqn} ({(allowAnyHost ? "any host" : $"{allowed.Length} host(s)")})");
            return subsystem;
        }, cancellationToken);

    /// <summary>
    /// Stops serving a subsystem: new connections are refused from now on, its controllers are torn
    /// down (only with <paramref name="force"/> when there are any) and its volumes closed; the
    /// volumes stay in the catalog.
    /// </summary>
    public Task<bool> DeleteSubsystemAsync(string nqn, bool force, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var subsystem = Changeable(nqn);
            var controllers = subsystem.Controllers();
            if (controllers.Length > 0 && !force)
            {
                throw Refused(StatusCode.FailedPrecondition,
                    $"Subsystem {nqn} has {controllers.Length} connected controller(s) (hosts {string.Join(", ", controllers.Select(c => c.HostNqn).Distinct())}); disconnect them first, or delete with force.");
            }

            exports.Save(WithSubsystem(nqn, null));
            registry.Remove(nqn);
            foreach (var controller in controllers)
            {
                controller.Teardown("subsystem deleted by the control plane");
            }

            foreach (var ns in subsystem.Namespaces)
            {
                subsystem.RemoveNamespace(ns.Id);
                factory.CloseNamespace(ns);
            }

            ChangeLog.Changed(logger, $"deleted subsystem {nqn}");
            return true;
        }, cancellationToken);

    /// <summary>Exports a catalog volume as a namespace; hosts connected to the subsystem get the notice and find it.</summary>
    public Task<Subsystem> AddNamespaceAsync(string nqn, string volume, uint namespaceId, uint anaGroup, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var subsystem = Changeable(nqn);
            if (factory.Catalog.Find(volume) is null)
            {
                throw Refused(StatusCode.NotFound, $"There is no volume '{volume}'; create it first.");
            }

            if (ExportsOf(volume) is [var (owner, existing), ..])
            {
                throw Refused(StatusCode.AlreadyExists, $"Volume '{volume}' is already exported as namespace {existing.Id} of {owner.Nqn}; a volume is exported once.");
            }

            uint group = anaGroup == 0 ? 1 : anaGroup;
            if (group > TargetPort.MaxAnaGroups)
            {
                throw Refused(StatusCode.InvalidArgument, $"ANA group {anaGroup} is outside 1..{TargetPort.MaxAnaGroups}.");
            }

            uint id = namespaceId;
            if (id == 0)
            {
                id = 1;
                while (subsystem.FindNamespace(id) is not null)
                {
                    id++;
                }
            }

            if (id > Subsystem.MaxNamespaces)
            {
                throw Refused(StatusCode.InvalidArgument, $"Namespace id {id} is outside 1..{Subsystem.MaxNamespaces}.");
            }

            if (subsystem.FindNamespace(id) is { } used)
            {
                throw Refused(StatusCode.AlreadyExists, $"Namespace id {id} of {nqn} is in use (volume '{used.VolumeName}'); choose another, or 0 for the lowest free one.");
            }

            var exported = new ExportedNamespace(id, volume, group);
            var ns = factory.OpenExportedNamespace(nqn, exported, logger);
            try
            {
                var stored = Stored(nqn);
                exports.Save(WithSubsystem(nqn, stored with { Namespaces = [.. stored.Namespaces, exported] }));
            }
            catch
            {
                factory.CloseNamespace(ns);
                throw;
            }

            factory.RestoreReservations(nqn, ns, logger);
            subsystem.AddNamespace(ns);
            subsystem.NotifyNamespaceChanged(id);
            ChangeLog.Changed(logger, $"exported volume {volume} as namespace {id} of {nqn} (ANA group {group})");
            return subsystem;
        }, cancellationToken);

    /// <summary>Removes a namespace: commands for it fail with Invalid Namespace from now on; its volume closes once its accepted commands end.</summary>
    public Task<Subsystem> RemoveNamespaceAsync(string nqn, uint namespaceId, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var subsystem = Changeable(nqn);
            var ns = subsystem.FindNamespace(namespaceId) ?? throw Refused(StatusCode.NotFound, $"Subsystem {nqn} has no namespace {namespaceId}.");
            var stored = Stored(nqn);
            exports.Save(WithSubsystem(nqn, stored with { Namespaces = [.. stored.Namespaces.Where(n => n.Id != namespaceId)] }));
            Unexport(subsystem, ns);
            ChangeLog.Changed(logger, $"removed namespace {namespaceId} (volume {ns.VolumeName}) from {nqn}");
            return subsystem;
        }, cancellationToken);

    /// <summary>
    /// Admits a host from now on; with <paramref name="authentication"/> it must authenticate
    /// (DH-HMAC-CHAP) with those secrets, which replace any it had. Without, a host already
    /// admitted keeps what it has.
    /// </summary>
    public Task<Subsystem> AddHostAsync(string nqn, string host, HostAuthenticationRequest? authentication, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var subsystem = Changeable(nqn);
            RequireHostNqns([host]);
            StoredHostCredentials? entry = null;
            if (authentication is not null)
            {
                using var credentials = HostCredentials.TryCreate(authentication.Secret, authentication.ControllerSecret, authentication.Hash, authentication.Group, out string? problem)
                    ?? throw Refused(StatusCode.InvalidArgument, $"Host {host}: {problem}.");
                var (hostSecret, controllerSecret, hash, group) = credentials.Describe();
                entry = new StoredHostCredentials(host, hostSecret, controllerSecret, hash, group);
            }

            var stored = Stored(nqn);
            bool listed = stored.AllowedHosts.Contains(host, StringComparer.Ordinal);
            if (listed && entry is null)
            {
                return subsystem;
            }

            var hosts = (stored.Hosts ?? []).Where(h => h.Nqn != host);
            var next = stored with
            {
                AllowedHosts = listed ? stored.AllowedHosts : [.. stored.AllowedHosts, host],
                Hosts = entry is null ? stored.Hosts : [.. hosts, entry],
            };
            if (entry is not null)
            {
                ChangeLog.Changed(logger, $"{nqn}: host {host} must authenticate (DH-HMAC-CHAP{(entry.DhchapControllerSecret is null ? "" : ", bidirectional")})");
            }

            return Admit(subsystem, next);
        }, cancellationToken);

    /// <summary>Stops admitting a host; with <paramref name="disconnect"/> its controllers are torn down too (fencing).</summary>
    public Task<Subsystem> RemoveHostAsync(string nqn, string host, bool disconnect, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var subsystem = Changeable(nqn);
            var stored = Stored(nqn);
            if (!stored.AllowedHosts.Contains(host, StringComparer.Ordinal))
            {
                throw Refused(StatusCode.NotFound, $"Host {host} is not in the allowed hosts of {nqn}.");
            }

            Admit(subsystem, stored with
            {
                AllowedHosts = [.. stored.AllowedHosts.Where(h => h != host)],
                Hosts = stored.Hosts is null ? null : [.. stored.Hosts.Where(h => h.Nqn != host)],
            });
            if (disconnect)
            {
                foreach (var controller in subsystem.Controllers().Where(c => c.HostNqn == host))
                {
                    controller.Teardown($"host {host} removed from {nqn} by the control plane");
                }
            }

            return subsystem;
        }, cancellationToken);

    public Task<Subsystem> SetAllowAnyHostAsync(string nqn, bool allowAnyHost, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var subsystem = Changeable(nqn);
            return Admit(subsystem, Stored(nqn) with { AllowAnyHost = allowAnyHost });
        }, cancellationToken);

    private Subsystem Admit(Subsystem subsystem, ExportedSubsystem stored)
    {
        exports.Save(WithSubsystem(subsystem.Nqn, stored));
        subsystem.SetAdmittedHosts(stored.AllowAnyHost, stored.AllowedHosts, stored.Credentials());
        ChangeLog.Changed(logger, $"{subsystem.Nqn} admits {(stored.AllowAnyHost ? "any host" : string.Join(", ", stored.AllowedHosts))}");
        return subsystem;
    }

    /// <summary>Tears down one controller (the host may reconnect while it is admitted).</summary>
    public void Disconnect(string nqn, ushort controllerId)
    {
        var subsystem = nqn == Subsystem.DiscoveryNqn ? registry.Discovery : Find(nqn);
        var controller = subsystem.FindController(controllerId) ?? throw Refused(StatusCode.NotFound, $"Subsystem {nqn} has no controller {controllerId}.");
        controller.Teardown("disconnected by the control plane");
        ChangeLog.Changed(logger, $"disconnected controller {controllerId} of {nqn} (host {controller.HostNqn})");
    }

    private static void RequireHostNqns(IEnumerable<string> hosts)
    {
        foreach (string host in hosts)
        {
            if (NqnRules.Problem(host) is { } problem)
            {
                throw Refused(StatusCode.InvalidArgument, $"Host NQN: {problem}.");
            }
        }
    }

    /// <summary>Identify's SN and MN fields: printable ASCII, space padded to their length.</summary>
    private static void RequireIdentifyText(string what, string value, int length)
    {
        if (value.Length > length || value.Any(c => c is < ' ' or > '~'))
        {
            throw Refused(StatusCode.InvalidArgument, $"The {what} '{value}' must be at most {length} printable ASCII characters.");
        }
    }

    private static string? NullIfEmpty(string value) => string.IsNullOrWhiteSpace(value) ? null : value;
}

/// <summary>An AddHost's DH-HMAC-CHAP part, as the request gives it (text, checked by <see cref="HostCredentials.TryCreate"/>).</summary>
internal sealed record HostAuthenticationRequest(string? Secret, string? ControllerSecret, string? Hash, string? Group);
