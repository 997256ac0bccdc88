using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.BlockEngine.Allocation;
using NovaStor.BlockEngine.Volumes;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Limits;

namespace NovaStor.Target.Hosting;

/// <summary>
/// Turns configuration into subsystems with open volumes. Bad configuration fails start-up with
/// a message that names the setting; nothing is served half-configured.
/// </summary>
internal sealed class SubsystemFactory(TargetOptions options, ListenerConfiguration listeners, ExportsStore exports, ILoggerFactory loggers, TargetLimits limits, TimeProvider time) : IDisposable
{
    /// <summary>The drive id of <see cref="TargetOptions.DataDirectory"/> in the catalog.</summary>
    public const string DataDirectoryDrive = "data";

    /// <summary>Where a catalog volume's changed-region map is saved while the volume is closed.</summary>
    private const string ChangesSuffix = ".changes";

    /// <summary>An open volume, and where its change map goes when it closes cleanly (null: not kept).</summary>
    private sealed record OpenedVolume(IBlockVolume Volume, ChangeTracker Changes, string? ChangesPath);

    private readonly List<OpenedVolume> _volumes = [];
    private readonly Lock _volumesLock = new();
    private readonly ILogger _engineLogger = loggers.CreateLogger("NovaStor.BlockEngine");
    private long _memoryNamespaceBytes;
    private BlockEngineHost? _engine;
    private VolumeManager? _catalog;
    private ReservationStore? _reservations;

    public SubsystemRegistry Create()
    {
        var configured = options.Subsystems.Count == 0 ? [EmbeddedDefault.Subsystem()] : options.Subsystems;
        var logger = loggers.CreateLogger("NovaStor.Target");
        var advertised = AdvertisedAddress(options.AdvertisedAddress);
        if (options.Reactors is < 1 or > 64)
        {
            throw new InvalidOperationException($"NovaStor:Reactors {options.Reactors} is outside 1..64.");
        }

        if (options.ReactorPollMicroseconds is < 0 or > 10_000)
        {
            throw new InvalidOperationException($"NovaStor:ReactorPollMicroseconds {options.ReactorPollMicroseconds} is outside 0..10000.");
        }

        if (options.ReactorDiskSubmitBatch is < 0 or > 256)
        {
            throw new InvalidOperationException($"NovaStor:ReactorDiskSubmitBatch {options.ReactorDiskSubmitBatch} is outside 0..256.");
        }

        if (options.RegisteredBufferMegabytes is < 0 or > 1024)
        {
            throw new InvalidOperationException($"NovaStor:RegisteredBufferMegabytes {options.RegisteredBufferMegabytes} is outside 0..1024.");
        }

        var reactorOptions = new NovaStor.BlockEngine.Reactors.ReactorPoolOptions
        {
            Count = options.Reactors,
            PinThreads = options.PinReactors,
            SubmissionPolling = options.SubmissionPolling,
            PollMicroseconds = options.ReactorPollMicroseconds,
            DiskSubmitBatch = options.ReactorDiskSubmitBatch,
            RegisteredBufferBytes = (long)options.RegisteredBufferMegabytes << 20,
            CommandBufferBytes = (long)options.CommandBufferMegabytes << 20,
        };
        _engine = BlockEngineHost.Create(options.Engine, reactorOptions, _engineLogger);
        try
        {
            ActiveTransport = ChooseTransport(_engine, logger);
            _catalog = OpenCatalog(loggers.CreateLogger("NovaStor.Volumes"));
            var subsystems = OpenSubsystems(configured, logger);
            subsystems.AddRange(OpenExportedSubsystems(subsystems, logger));
            _reservations = ReservationStore.Open(options.DataDirectory);
            RestoreReservations(subsystems, _reservations, logger);
            return new SubsystemRegistry(subsystems, advertised, listeners.Ports) { Admission = new AdmissionControl(limits, time) };
        }
        catch
        {
            // Start-up fails: close what was opened (volumes, reactor threads) before reporting it.
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// The configured address for discovery entries, or null. Hosts are told to connect to it, so
    /// it must be an address they can use: a host name or a wildcard would be copied into TRADDR
    /// and fail only at their connect.
    /// </summary>
    private static System.Net.IPAddress? AdvertisedAddress(string? configured)
    {
        if (string.IsNullOrEmpty(configured))
        {
            return null;
        }

        if (!System.Net.IPAddress.TryParse(configured, out var address))
        {
            throw new InvalidOperationException($"NovaStor:AdvertisedAddress '{configured}' is not an IP address.");
        }

        if (address.Equals(System.Net.IPAddress.Any) || address.Equals(System.Net.IPAddress.IPv6Any))
        {
            throw new InvalidOperationException($"NovaStor:AdvertisedAddress '{configured}' is a wildcard; give the address hosts connect to.");
        }

        return address;
    }

    private List<Subsystem> OpenSubsystems(List<SubsystemOptions> configured, ILogger logger)
    {
        var subsystems = new List<Subsystem>();
        foreach (var subsystem in configured)
        {
            ValidateNqn(subsystem.Nqn);
            if (!subsystem.AllowAnyHost && subsystem.AllowedHosts.Count == 0 && subsystem.Hosts.Count == 0)
            {
                throw new InvalidOperationException($"Subsystem {subsystem.Nqn} admits no host: set AllowAnyHost or list AllowedHosts or Hosts.");
            }

            var credentials = HostCredentialsOptions.Read(subsystem);

            var namespaces = new List<Namespace>();
            uint nextId = 1;
            foreach (var ns in subsystem.Namespaces)
            {
                uint id = ns.Id == 0 ? nextId : ns.Id;
                nextId = Math.Max(nextId, id + 1);
                namespaces.Add(OpenNamespace(subsystem.Nqn, id, ns, logger));
            }

            subsystems.Add(new Subsystem(subsystem.Nqn, subsystem.AllowAnyHost, subsystem.AllowedHosts, namespaces, credentials: credentials));
            if (credentials.Count > 0)
            {
                Log.AuthenticationConfigured(logger, subsystem.Nqn, credentials.Count);
            }
        }

        return subsystems;
    }

    /// <summary>
    /// The subsystems the control plane created (exports.json). A namespace whose catalog volume is
    /// gone (a forced volume delete killed after the catalog's commit) is dropped and the store
    /// rewritten, so the delete ends whole; an NQN the configuration also defines stops start-up.
    /// </summary>
    private List<Subsystem> OpenExportedSubsystems(List<Subsystem> configured, ILogger logger)
    {
        var document = exports.Current;
        var repaired = new List<ExportedSubsystem>();
        foreach (var stored in document.Subsystems)
        {
            if (configured.Any(s => s.Nqn == stored.Nqn))
            {
                throw new InvalidOperationException(
                    $"Subsystem {stored.Nqn} is both in the configuration and in {exports.FilePath} (created over the control plane): remove it from one of them.");
            }

            var kept = stored.Namespaces.Where(ns => _catalog!.Find(ns.Volume) is not null).ToList();
            foreach (var dropped in stored.Namespaces.Except(kept))
            {
                Log.ExportedVolumeMissing(logger, stored.Nqn, dropped.Id, dropped.Volume);
            }

            repaired.Add(kept.Count == stored.Namespaces.Count ? stored : stored with { Namespaces = kept });
        }

        if (!repaired.SequenceEqual(document.Subsystems))
        {
            exports.Save(document with { Subsystems = repaired });
        }

        var subsystems = new List<Subsystem>();
        foreach (var stored in repaired)
        {
            var subsystem = new Subsystem(stored.Nqn, stored.AllowAnyHost, stored.AllowedHosts,
                [.. stored.Namespaces.Select(ns => OpenExportedNamespace(stored.Nqn, ns, logger))], serialNumber: stored.SerialNumber,
                modelNumber: stored.ModelNumber, isStatic: false, credentials: stored.Credentials());
            if (stored.Listeners is { } endpoints)
            {
                // By address and port: a listener the configuration no longer has is simply not served.
                subsystem.SetPorts(listeners.Ports.Where(p => endpoints.Any(e => e.Port == p.Port && System.Net.IPAddress.Parse(e.Address).Equals(p.Address))).Select(p => p.Id));
            }

            subsystems.Add(subsystem);
            if (stored.Hosts is { Count: > 0 } hosts)
            {
                Log.AuthenticationConfigured(logger, stored.Nqn, hosts.Count);
            }
        }

        return subsystems;
    }

    /// <summary>The catalog, for the control plane's volume changes.</summary>
    public VolumeManager Catalog => _catalog ?? throw new InvalidOperationException("The catalog is not open.");

    /// <summary>Opens an existing catalog volume as a namespace of <paramref name="nqn"/> (the control plane's namespaces).</summary>
    public Namespace OpenExportedNamespace(string nqn, ExportedNamespace ns, ILogger logger)
    {
        var record = _catalog!.Find(ns.Volume) ?? throw new InvalidOperationException($"Volume '{ns.Volume}' is not in the catalog.");
        var volume = _catalog.OpenVolume(record.Name, (path, sizeBytes, blockSize) => _engine!.OpenOrCreate(path, sizeBytes, blockSize));
        return Track(nqn, ns.Id, ns.Volume, volume, ns.AnaGroup, ChangesPath(record.Name), created: false, string.Join(", ", _catalog.FilePaths(record)), logger);
    }

    /// <summary>
    /// Closes a namespace's volume once it left its subsystem: waits (bounded) for its accepted
    /// requests, then saves the change map, as a clean stop does.
    /// </summary>
    public void CloseNamespace(Namespace ns)
    {
        OpenedVolume? opened;
        lock (_volumesLock)
        {
            opened = _volumes.Find(v => ReferenceEquals(v.Volume, ns.Volume));
            if (opened is not null)
            {
                _volumes.Remove(opened);
            }
        }

        if (opened is not null)
        {
            Close(opened);
        }
    }

    /// <summary>The file a catalog volume's change map is kept in while it is closed.</summary>
    public string ChangesPath(string volumeName) => System.IO.Path.Combine(System.IO.Path.GetFullPath(options.DataDirectory), volumeName + ChangesSuffix);

    /// <param name="where">The file(s) a File namespace serves, for the log line (Memory and Null namespaces log their own).</param>
    private Namespace Track(string nqn, uint id, string volumeName, IBlockVolume volume, uint anaGroup, string? changesPath, bool created, string? where, ILogger logger)
    {
        ChangeTracker changes;
        if (changesPath is null)
        {
            // A file given by Path: nothing records what happened to it while the target was away.
            changes = volume is MemoryVolume or NullVolume ? ChangeTracker.ForNewVolume(volume.SizeBytes) : ChangeTracker.Unknown(volume.SizeBytes);
        }
        else if (created)
        {
            DurableFile.Delete(changesPath); // a map left by an earlier volume of the same name
            changes = ChangeTracker.ForNewVolume(volume.SizeBytes);
        }
        else
        {
            changes = ChangeTracker.Open(changesPath, volume.SizeBytes, out string? problem);
            if (problem is not null)
            {
                Log.ChangeMapUnknown(logger, volumeName, problem);
            }
        }

        lock (_volumesLock)
        {
            _volumes.Add(new OpenedVolume(volume, changes, changesPath));
        }

        if (where is not null)
        {
            Log.NamespaceServed(logger, nqn, id, where, volume.SizeBytes, volume.BlockSize);
        }

        return new Namespace(id, volumeName, volume, Identity.NamespaceGuid(nqn, volumeName), Identity.NamespaceUuid(nqn, volumeName), anaGroup, changes,
            isCatalogVolume: changesPath is not null);
    }

    private void Close(OpenedVolume opened)
    {
        opened.Volume.Dispose();
        if (opened.ChangesPath is not null)
        {
            try
            {
                opened.Changes.Save(opened.ChangesPath);
            }
            catch (IOException e)
            {
                // Not saved: the next open reports the history unknown, which is the safe answer.
                Log.ChangeMapNotSaved(loggers.CreateLogger("NovaStor.Target"), opened.ChangesPath, e.Message);
            }
        }
    }

    /// <summary>
    /// Gives each namespace its stored reservation state (PTPL) and the store to keep it in; runs
    /// before the listeners open, so no host sees a namespace without its reservations.
    /// </summary>
    private static void RestoreReservations(List<Subsystem> subsystems, ReservationStore store, ILogger logger)
    {
        foreach (var subsystem in subsystems)
        {
            foreach (var ns in subsystem.Namespaces)
            {
                RestoreReservations(subsystem.Nqn, ns, store, logger);
            }
        }
    }

    /// <summary>Gives a namespace added at runtime its stored reservation state (when it was exported before with PTPL) and the store.</summary>
    public void RestoreReservations(string nqn, Namespace ns, ILogger logger) =>
        RestoreReservations(nqn, ns, _reservations ?? throw new InvalidOperationException("The reservation store is not open."), logger);

    private static void RestoreReservations(string nqn, Namespace ns, ReservationStore store, ILogger logger)
    {
        if (store.Find(nqn, ns) is { } stored)
        {
            ns.Reservations.Restore(stored);
            Log.ReservationRestored(logger, nqn, ns.Id, stored.Registrants.Length, stored.Type);
        }

        ns.Reservations.Persist = state => store.Save(nqn, ns, state);
    }

    private Namespace OpenNamespace(string nqn, uint id, NamespaceOptions ns, ILogger logger)
    {
        if (string.IsNullOrWhiteSpace(ns.Volume))
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: Volume (a stable name) is required.");
        }

        if (ns.AnaGroup is 0 or > TargetPort.MaxAnaGroups)
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: AnaGroup {ns.AnaGroup} is outside 1..{TargetPort.MaxAnaGroups}.");
        }

        if (id > Subsystem.MaxNamespaces)
        {
            throw new InvalidOperationException($"Subsystem {nqn}: namespace id {id} above {Subsystem.MaxNamespaces}.");
        }

        var backend = NamespaceBackends.Parse(ns.Backend, $"Subsystem {nqn}, namespace {id}");
        if (backend != NamespaceBackend.File && ns.Path is not null)
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: Path is for the File backend; a {backend} namespace has no file (remove Path, or set Backend to File).");
        }

        if (backend != NamespaceBackend.File && ns.StripeWidth != 1)
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: StripeWidth is for catalog volumes; a {backend} namespace is not striped over drives (remove StripeWidth, or set Backend to File).");
        }

        if (ns.StripeWidth < 1)
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: StripeWidth {ns.StripeWidth} must be at least 1.");
        }

        if (ns.BlockSize is not (512 or 4096))
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: BlockSize {ns.BlockSize} must be 512 or 4096.");
        }

        if (ns.SizeBytes <= 0 || ns.SizeBytes % ns.BlockSize != 0)
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: SizeBytes {ns.SizeBytes} must be a positive multiple of {ns.BlockSize}.");
        }

        return backend switch
        {
            NamespaceBackend.Memory => OpenMemory(nqn, id, ns, logger),
            NamespaceBackend.Null => OpenNull(nqn, id, ns, logger),
            _ => OpenFileOrCatalogVolume(nqn, id, ns, logger),
        };
    }

    /// <summary>The File backend: the file or block device at Path, or the catalog volume named Volume.</summary>
    private Namespace OpenFileOrCatalogVolume(string nqn, uint id, NamespaceOptions ns, ILogger logger)
    {
        if (ns.Path is not null)
        {
            string where = System.IO.Path.GetFullPath(ns.Path, System.IO.Path.GetFullPath(options.DataDirectory));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(where)!);
            var file = _engine!.OpenOrCreate(where, ns.SizeBytes, ns.BlockSize);
            return Track(nqn, id, ns.Volume, file, ns.AnaGroup, changesPath: null, created: false, where, logger);
        }

        var record = FindOrCreateVolume(nqn, id, ns, logger, out bool created);
        var volume = _catalog!.OpenVolume(record.Name, (path, sizeBytes, blockSize) => _engine!.OpenOrCreate(path, sizeBytes, blockSize));
        return Track(nqn, id, ns.Volume, volume, ns.AnaGroup, ChangesPath(record.Name), created, string.Join(", ", _catalog.FilePaths(record)), logger);
    }

    /// <summary>
    /// The Memory backend: SizeBytes of RAM, all of it allocated and zeroed now. Refused when the
    /// memory namespaces together would not fit in the memory the process may use: the kernel
    /// would otherwise grant the allocation and kill the target while zeroing it.
    /// </summary>
    private Namespace OpenMemory(string nqn, uint id, NamespaceOptions ns, ILogger logger)
    {
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (_memoryNamespaceBytes + ns.SizeBytes > available)
        {
            throw new InvalidOperationException(
                $"Subsystem {nqn}, namespace {id}: a Memory namespace of {ns.SizeBytes} bytes does not fit: memory namespaces would take {_memoryNamespaceBytes + ns.SizeBytes} bytes of the {available} this process may use.");
        }

        MemoryVolume volume;
        try
        {
            volume = new MemoryVolume(ns.SizeBytes, ns.BlockSize, _engineLogger);
        }
        catch (OutOfMemoryException)
        {
            throw new InvalidOperationException($"Subsystem {nqn}, namespace {id}: {ns.SizeBytes} bytes for a Memory namespace could not be allocated.");
        }

        _memoryNamespaceBytes += ns.SizeBytes;
        Log.MemoryNamespaceServed(logger, nqn, id, volume.SizeBytes, volume.BlockSize);
        return Track(nqn, id, ns.Volume, volume, ns.AnaGroup, changesPath: null, created: true, where: null, logger);
    }

    /// <summary>The Null backend: nothing stored, nothing allocated per byte of size.</summary>
    private Namespace OpenNull(string nqn, uint id, NamespaceOptions ns, ILogger logger)
    {
        var volume = new NullVolume(ns.SizeBytes, ns.BlockSize, _engineLogger);
        Log.NullNamespaceServed(logger, nqn, id, volume.SizeBytes, volume.BlockSize);
        return Track(nqn, id, ns.Volume, volume, ns.AnaGroup, changesPath: null, created: true, where: null, logger);
    }

    /// <summary>The block engine that runs, IoUring, Aio or Fallback (decided by <see cref="Create"/>).</summary>
    public EngineKind ActiveEngine => _engine?.Active ?? EngineKind.Auto;

    /// <summary>True when NVMe/TCP queues run on the engine's reactors (decided by <see cref="Create"/>).</summary>
    public bool UsesReactorTransport => ActiveTransport != TransportKind.Sockets;

    /// <summary>The transport that runs: IoUring, Epoll or Sockets (decided by <see cref="Create"/>).</summary>
    public TransportKind ActiveTransport { get; private set; } = TransportKind.Sockets;

    /// <summary>
    /// Reactors carry the queues' sockets wherever they run the disk I/O (Auto): io_uring rings on the
    /// io_uring engine, epoll on the native AIO engine; unless the socket transport was chosen.
    /// Requiring a reactor transport its engine does not run is a configuration error.
    /// </summary>
    private TransportKind ChooseTransport(BlockEngineHost engine, ILogger logger)
    {
        TransportKind reactors = engine.Active switch
        {
            EngineKind.IoUring => TransportKind.IoUring,
            EngineKind.Aio => TransportKind.Epoll,
            _ => TransportKind.Sockets,
        };
        if (options.Transport is TransportKind.IoUring or TransportKind.Epoll && options.Transport != reactors)
        {
            throw new InvalidOperationException($"NovaStor:Transport {options.Transport} needs the {(options.Transport == TransportKind.IoUring ? "io_uring" : "Aio")} engine, but the engine is {engine.Active}: {engine.Reason}.");
        }

        TransportKind chosen = options.Transport == TransportKind.Sockets ? TransportKind.Sockets : reactors;
        string what = chosen switch
        {
            TransportKind.IoUring => $"io_uring reactors ({engine.ReactorCount}), one thread per queue",
            TransportKind.Epoll => $"native AIO reactors with epoll ({engine.ReactorCount}), one thread per queue",
            _ => "Kestrel sockets and pipes",
        };
        string why = chosen != TransportKind.Sockets ? "run to completion on the reactor that owns each queue"
            : options.Transport == TransportKind.Sockets ? "chosen in configuration" : $"the {engine.Active} engine has no reactors";
        Log.TransportChosen(logger, what, why);
        return chosen;
    }

    /// <summary>The engine lane for a new queue (unbound until the volumes are open).</summary>
    public EngineLane AcquireLane() => _engine?.AcquireLane() ?? EngineLane.Unbound;

    /// <summary>
    /// The catalog in the data directory, over it and the configured drives. A corrupt catalog
    /// stops start-up (CatalogCorruptException names the file and the reason); it is never replaced.
    /// </summary>
    private VolumeManager OpenCatalog(ILogger logger)
    {
        var drives = new List<(string Id, string Path)> { (DataDirectoryDrive, options.DataDirectory) };
        foreach (var drive in options.Drives)
        {
            if (string.IsNullOrWhiteSpace(drive.Id) || string.IsNullOrWhiteSpace(drive.Path))
            {
                throw new InvalidOperationException("NovaStor:Drives: every drive needs an Id and a Path.");
            }

            if (drives.Any(d => d.Id == drive.Id))
            {
                throw new InvalidOperationException($"NovaStor:Drives: the id '{drive.Id}' is used twice (\"{DataDirectoryDrive}\" is the data directory's).");
            }

            drives.Add((drive.Id, drive.Path));
        }

        return VolumeManager.Open(options.DataDirectory, drives, logger);
    }

    /// <summary>
    /// The catalog's record of a namespace's volume, created thin on first start. The catalog is the
    /// truth for an existing volume: a configured size or LBA size that differs is reported, not applied.
    /// A NAME.img left in the data directory by a version without the catalog is adopted with its data.
    /// </summary>
    private VolumeRecord FindOrCreateVolume(string nqn, uint id, NamespaceOptions ns, ILogger logger, out bool created)
    {
        created = false;
        var record = _catalog!.Find(ns.Volume);
        if (record is null && File.Exists(System.IO.Path.Combine(options.DataDirectory, ns.Volume + ".img")))
        {
            record = _catalog.Adopt(ns.Volume, ns.BlockSize, DataDirectoryDrive);
        }

        if (record is null)
        {
            created = true;
            return _catalog.Create(ns.Volume, ns.SizeBytes, ns.BlockSize, ns.StripeWidth);
        }

        if (record.SizeBytes != ns.SizeBytes || record.BlockSize != ns.BlockSize)
        {
            Log.CatalogDiffers(logger, nqn, id, ns.Volume, record.SizeBytes, record.BlockSize, ns.SizeBytes, ns.BlockSize);
        }

        return record;
    }

    /// <summary>A configured subsystem NQN follows the same rules as one the control plane creates (<see cref="NqnRules"/>).</summary>
    private static void ValidateNqn(string nqn)
    {
        if (NqnRules.Problem(nqn) is { } problem)
        {
            throw new InvalidOperationException($"NovaStor:Subsystems: {problem}.");
        }

        if (nqn == Subsystem.DiscoveryNqn)
        {
            throw new InvalidOperationException($"{nqn} is the discovery subsystem's NQN and cannot be configured.");
        }
    }

    public void Dispose()
    {
        OpenedVolume[] volumes;
        lock (_volumesLock)
        {
            volumes = [.. _volumes];
            _volumes.Clear();
        }

        foreach (var opened in volumes)
        {
            Close(opened);
        }

        // The reactors stop after the last volume that submits to them.
        _engine?.Dispose();
        _engine = null;
    }
}
