using Grpc.Core;
using NovaStor.BlockEngine.Allocation;
using NovaStor.BlockEngine.Volumes;
using NovaStor.Target.Core;

namespace NovaStor.Target.ControlPlane;

/// <summary>Volumes: the catalog's own changes are crash-safe (<see cref="VolumeManager"/>); these add the checks against what is exported.</summary>
internal sealed partial class NodeState
{
    public Task<VolumeRecord> CreateVolumeAsync(string name, ulong sizeBytes, uint blockSize, uint stripeWidth, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            if (!VolumeCatalog.IsValidName(name))
            {
                throw Refused(StatusCode.InvalidArgument, $"'{name}' is not a valid volume name: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters.");
            }

            int block = blockSize == 0 ? 512 : (int)Math.Min(blockSize, int.MaxValue);
            if (block is not (512 or 4096))
            {
                throw Refused(StatusCode.InvalidArgument, $"Block size {blockSize} is not supported: use 512 or 4096.");
            }

            if (sizeBytes == 0 || sizeBytes > long.MaxValue || sizeBytes % (ulong)block != 0)
            {
                throw Refused(StatusCode.InvalidArgument, $"Size {sizeBytes} must be a positive multiple of the block size {block}.");
            }

            var catalog = factory.Catalog;
            if (catalog.Find(name) is not null)
            {
                throw Refused(StatusCode.AlreadyExists, $"Volume '{name}' exists.");
            }

            int width = stripeWidth == 0 ? 1 : (int)Math.Min(stripeWidth, int.MaxValue);
            if (width > catalog.Drives.Count)
            {
                throw Refused(StatusCode.InvalidArgument, $"Stripe width {width} is more than the {catalog.Drives.Count} drive(s) this node has.");
            }

            var record = catalog.Create(name, (long)sizeBytes, block, width);
            // Nothing written yet, and every change from here on is tracked: a clean, complete map
            // (which also replaces one an earlier volume of this name left).
            ChangeTracker.ForNewVolume(record.SizeBytes).Save(factory.ChangesPath(name));
            ChangeLog.Changed(logger, $"created volume {name} ({sizeBytes} bytes, blocks of {block}, {width} drive(s))");
            return record;
        }, cancellationToken);

    /// <summary>
    /// Deletes a volume; with <paramref name="force"/> its namespaces go first. Order for a crash:
    /// the namespaces leave the running target, the catalog deletes the volume, then exports.json
    /// drops them. Killed before the catalog's commit, the volume and its namespaces come back
    /// whole; after it, start-up drops the namespaces of the missing volume (the delete completes).
    /// </summary>
    public Task<bool> DeleteVolumeAsync(string name, bool force, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var catalog = factory.Catalog;
            if (catalog.Find(name) is null)
            {
                throw Refused(StatusCode.NotFound, $"There is no volume '{name}'.");
            }

            var exported = ExportsOf(name);
            if (exported.FirstOrDefault(e => e.Subsystem.IsStatic) is { Subsystem: { } configured })
            {
                throw Refused(StatusCode.FailedPrecondition, $"Volume '{name}' is exported by {configured.Nqn}, which the configuration file defines; remove it there first.");
            }

            if (exported.Count > 0 && !force)
            {
                throw Refused(StatusCode.FailedPrecondition,
                    $"Volume '{name}' is exported as {string.Join(", ", exported.Select(e => $"namespace {e.Namespace.Id} of {e.Subsystem.Nqn}"))}; remove the namespace(s) first, or delete with force.");
            }

            foreach (var (subsystem, ns) in exported)
            {
                Unexport(subsystem, ns);
            }

            try
            {
                catalog.Delete(name);
            }
            catch
            {
                foreach (var (subsystem, ns) in exported)
                {
                    Reexport(subsystem, ns);
                }

                throw;
            }

            if (exported.Count > 0)
            {
                var document = exports.Current;
                exports.Save(document with
                {
                    Subsystems = [.. document.Subsystems.Select(s => s with { Namespaces = [.. s.Namespaces.Where(n => n.Volume != name)] })],
                });
            }

            DurableFile.Delete(factory.ChangesPath(name));
            ChangeLog.Changed(logger, $"deleted volume {name}{(exported.Count > 0 ? $" and its {exported.Count} namespace(s)" : "")}");
            return true;
        }, cancellationToken);

    /// <summary>Grows a volume; connected hosts get the Namespace Attribute Changed notice and read the new size.</summary>
    public Task<VolumeRecord> ResizeVolumeAsync(string name, ulong sizeBytes, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var catalog = factory.Catalog;
            var record = catalog.Find(name) ?? throw Refused(StatusCode.NotFound, $"There is no volume '{name}'.");
            if (sizeBytes < (ulong)record.SizeBytes)
            {
                throw Refused(StatusCode.FailedPrecondition, $"Volume '{name}' is {record.SizeBytes} bytes; volumes only grow (shrinking would cut data hosts wrote).");
            }

            if (sizeBytes > long.MaxValue || sizeBytes % (ulong)record.BlockSize != 0)
            {
                throw Refused(StatusCode.InvalidArgument, $"Size {sizeBytes} must be a multiple of the volume's block size {record.BlockSize}.");
            }

            if (sizeBytes == (ulong)record.SizeBytes)
            {
                return record;
            }

            var exported = ExportsOf(name);
            if (exported.Any(e => e.Namespace.Volume is not NovaStor.BlockEngine.IGrowableVolume))
            {
                throw Refused(StatusCode.FailedPrecondition, $"Volume '{name}' is served by a backend that cannot grow online.");
            }

            // The files and the catalog first (durable); then the open volume accepts the new range.
            var resized = catalog.Resize(name, (long)sizeBytes);
            foreach (var (subsystem, ns) in exported)
            {
                ns.Grow(resized.SizeBytes);
                subsystem.NotifyNamespaceChanged(ns.Id);
            }

            ChangeLog.Changed(logger, $"grew volume {name} from {record.SizeBytes} to {resized.SizeBytes} bytes");
            return resized;
        }, cancellationToken);

    public VolumeRecord GetVolume(string name) =>
        factory.Catalog.Find(name) ?? throw Refused(StatusCode.NotFound, $"There is no volume '{name}'.");

    public IReadOnlyList<VolumeRecord> ListVolumes() => factory.Catalog.List();

    /// <summary>Bytes holding data: from the open volume when exported, else from its files.</summary>
    public ulong AllocatedBytes(VolumeRecord record)
    {
        if (ExportsOf(record.Name) is [var (_, ns), ..])
        {
            return (ns.AllocatedBlocks(out _) ?? ns.BlockCount) * (ulong)ns.BlockSize;
        }

        long blocks = 0;
        foreach (string path in factory.Catalog.FilePaths(record))
        {
            blocks += AllocationMap.CountAllocatedBlocks(path, record.BlockSize);
        }

        return (ulong)Math.Min(blocks * record.BlockSize, record.SizeBytes);
    }

    /// <summary>
    /// The changed-region map of a volume, cleared when <paramref name="clear"/>. A closed volume's
    /// map is the one its last clean close saved (read, then saved again so it stays in place).
    /// </summary>
    public Task<(ulong[] Words, long RegionCount, int RegionBytes, bool Complete)> ChangedRegionsAsync(string name, bool clear, CancellationToken cancellationToken) =>
        ChangeAsync(() =>
        {
            var record = GetVolume(name);
            if (ExportsOf(name) is [var (_, ns), ..])
            {
                var (words, regions, complete) = ns.Changes.Snapshot(clear);
                return (words, regions, ns.Changes.Granularity, complete);
            }

            string path = factory.ChangesPath(name);
            var tracker = ChangeTracker.Open(path, record.SizeBytes, out _);
            var snapshot = tracker.Snapshot(clear);
            tracker.Save(path);
            return (snapshot.Words, snapshot.RegionCount, tracker.Granularity, snapshot.Complete);
        }, cancellationToken);

    /// <summary>What the drives can still take.</summary>
    public (ulong Available, ulong Total, ulong Provisioned, ulong LargestOneDrive) Capacity()
    {
        ulong available = 0, total = 0, largest = 0;
        foreach (var drive in factory.Catalog.Drives)
        {
            var info = new DriveInfo(drive.Path);
            available += (ulong)info.AvailableFreeSpace;
            total += (ulong)info.TotalSize;
            largest = Math.Max(largest, (ulong)info.AvailableFreeSpace);
        }

        ulong provisioned = (ulong)factory.Catalog.List().Sum(v => v.SizeBytes);
        return (available, total, provisioned, largest);
    }

    /// <summary>Takes a namespace out of its subsystem and closes its volume (hosts get the notice).</summary>
    private void Unexport(Subsystem subsystem, Namespace ns)
    {
        subsystem.RemoveNamespace(ns.Id);
        subsystem.NotifyNamespaceChanged(ns.Id);
        factory.CloseNamespace(ns);
    }

    /// <summary>Undoes <see cref="Unexport"/> after a later step failed: the volume is opened again under the same NSID.</summary>
    private void Reexport(Subsystem subsystem, Namespace ns)
    {
        var reopened = factory.OpenExportedNamespace(subsystem.Nqn, new Hosting.ExportedNamespace(ns.Id, ns.VolumeName, ns.AnaGroupId), logger);
        factory.RestoreReservations(subsystem.Nqn, reopened, logger);
        subsystem.AddNamespace(reopened);
        subsystem.NotifyNamespaceChanged(ns.Id);
    }
}
