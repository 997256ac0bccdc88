using NovaStor.BlockEngine;
using NovaStor.BlockEngine.Allocation;
using NovaStor.Target.Core.Reservations;
using NovaStor.Target.Core.Statistics;

namespace NovaStor.Target.Core;

/// <summary>A namespace of a subsystem: a volume, its LBA format and its stable identity.</summary>
internal sealed class Namespace
{
    public Namespace(uint id, string volumeName, IBlockVolume volume, byte[] nguid, byte[] uuid, uint anaGroupId = 1, ChangeTracker? changes = null,
        bool isCatalogVolume = false)
    {
        if (!int.IsPow2(volume.BlockSize) || volume.BlockSize < 512)
        {
            throw new ArgumentException($"Volume '{volumeName}' has an unusable block size {volume.BlockSize}.", nameof(volume));
        }

        Id = id;
        VolumeName = volumeName;
        Volume = volume;
        Nguid = nguid;
        Uuid = uuid;
        AnaGroupId = anaGroupId;
        BlockSizeShift = (byte)int.Log2(volume.BlockSize);
        Changes = changes ?? ChangeTracker.ForNewVolume(volume.SizeBytes);
        IsCatalogVolume = isCatalogVolume;
    }

    public uint Id { get; }
    public string VolumeName { get; }
    public IBlockVolume Volume { get; }
    public byte[] Nguid { get; }
    public byte[] Uuid { get; }
    public uint AnaGroupId { get; }

    /// <summary>The volume is the catalog's volume <see cref="VolumeName"/> (not a Path, Memory or Null namespace).</summary>
    public bool IsCatalogVolume { get; }

    /// <summary>log2 of the LBA size (the LBADS of the one LBA format).</summary>
    public byte BlockSizeShift { get; }

    public int BlockSize => Volume.BlockSize;

    /// <summary>NSZE: the namespace size in logical blocks.</summary>
    public ulong BlockCount => (ulong)Volume.SizeBytes >> BlockSizeShift;

    /// <summary>
    /// Which 64 KiB regions changed (written, zeroed, deallocated, copied to) since the last
    /// snapshot-and-clear: for incremental backup and replica resync. Saved on a clean stop for
    /// catalog volumes; see <see cref="ChangeTracker"/> for what a crash means.
    /// </summary>
    public ChangeTracker Changes { get; }

    /// <summary>
    /// Grows the namespace online (the catalog has extended the files): commands see the new size
    /// from now on; the caller tells the controllers (Namespace Attribute Changed).
    /// </summary>
    public void Grow(long newSizeBytes)
    {
        if (Volume is not IGrowableVolume growable)
        {
            throw new InvalidOperationException($"Volume '{VolumeName}' ({Volume.GetType().Name}) cannot grow online.");
        }

        // The map first: a write to the new range must find its regions.
        Changes.Grow(newSizeBytes);
        growable.Grow(newSizeBytes);
    }

    /// <summary>Registrations and the reservation held (shared by every controller of the subsystem).</summary>
    public NamespaceReservations Reservations { get; } = new();

    /// <summary>I/O counts and latency of every queue that has used this namespace (closed ones too).</summary>
    public NamespaceStatistics Statistics { get; } = new();

    /// <summary>
    /// NUSE: blocks holding data, when the volume can tell (thin files); null when it cannot, and
    /// the namespace is then reported fully allocated.
    /// </summary>
    public ulong? AllocatedBlocks(out string? failure)
    {
        failure = null;
        if (Volume is not IAllocationQuery query)
        {
            return null;
        }

        try
        {
            return query.CountAllocatedBlocks() is { } blocks ? Math.Min((ulong)blocks, BlockCount) : null;
        }
        catch (IOException e)
        {
            failure = e.Message;
            return null;
        }
    }

    /// <summary>True when [firstBlock, firstBlock + blocks) lies inside the namespace, without overflow.</summary>
    public bool Contains(ulong firstBlock, ulong blocks) => blocks <= BlockCount && firstBlock <= BlockCount - blocks;
}
