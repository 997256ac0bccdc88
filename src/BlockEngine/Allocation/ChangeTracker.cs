using System.Buffers.Binary;
using System.Numerics;
using NovaStor.BlockEngine.Volumes;

namespace NovaStor.BlockEngine.Allocation;

/// <summary>
/// The changed-region map of one open volume: a <see cref="DirtyBitmap"/> that survives growing
/// online and a clean shutdown, and says when it cannot be trusted.
/// </summary>
/// <remarks>
/// <para><b>Growing.</b> A grown volume gets a new, larger bitmap; the old one is kept as retired
/// and drained by every snapshot. A write that read the old bitmap just before the swap marks it,
/// and the next snapshot still returns that mark: no lock on the I/O path, no lost change.</para>
/// <para><b>Persistence.</b> <see cref="Save"/> writes the map when the volume closes cleanly;
/// <see cref="Open"/> reads it back and deletes the file before the volume serves. A volume
/// opened without a saved map (the process was killed, or the map predates this version)
/// reports every region changed and <see cref="Complete"/> false until the map is next cleared.</para>
/// </remarks>
public sealed class ChangeTracker
{
    // File: "NVSCHG01" | volume bytes (u64 LE) | granularity (u32) | word count (u32) | words (u64 LE each) | CRC32C of all before (u32).
    private static readonly byte[] Magic = "NVSCHG01"u8.ToArray();
    private const int HeaderBytes = 8 + 8 + 4 + 4;

    private volatile DirtyBitmap _current;
    private volatile DirtyBitmap[] _retired = [];
    private readonly Lock _lock = new();
    private volatile bool _complete;

    private ChangeTracker(DirtyBitmap current, bool complete)
    {
        _current = current;
        _complete = complete;
    }

    /// <summary>A new volume: nothing changed, and every change from now on is tracked.</summary>
    public static ChangeTracker ForNewVolume(long volumeBytes) => new(new DirtyBitmap(volumeBytes), complete: true);

    /// <summary>A volume whose history is unknown: every region changed, not complete.</summary>
    public static ChangeTracker Unknown(long volumeBytes)
    {
        var bitmap = new DirtyBitmap(volumeBytes);
        bitmap.MarkWritten(0, volumeBytes);
        return new ChangeTracker(bitmap, complete: false);
    }

    /// <summary>
    /// The map saved at <paramref name="path"/> by the last clean close, which is deleted (durably)
    /// before this returns: if the process dies from now on, the next open finds no map and reports
    /// the history unknown. No file, or one that does not check out: <see cref="Unknown"/>.
    /// </summary>
    public static ChangeTracker Open(string path, long volumeBytes, out string? problem)
    {
        problem = null;
        DurableFile.RemoveLeftover(path);
        if (!File.Exists(path))
        {
            problem = "no map was saved (the target did not stop cleanly, or the volume predates change tracking)";
            return Unknown(volumeBytes);
        }

        var tracker = Read(File.ReadAllBytes(path), volumeBytes, out problem) is { } bitmap ? new ChangeTracker(bitmap, complete: true) : Unknown(volumeBytes);
        DurableFile.Delete(path);
        return tracker;
    }

    private static DirtyBitmap? Read(byte[] bytes, long volumeBytes, out string? problem)
    {
        problem = "the saved map is damaged";
        if (bytes.Length < HeaderBytes + 4 || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
        {
            return null;
        }

        int length = bytes.Length - 4;
        if (Checksum(bytes.AsSpan(0, length)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(length)))
        {
            return null;
        }

        long savedBytes = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        int granularity = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16));
        int words = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20));
        if (granularity != DirtyBitmap.DefaultGranularity || savedBytes <= 0 || savedBytes > volumeBytes || words < 0 || HeaderBytes + (8L * words) != length)
        {
            problem = $"the saved map is for another size ({savedBytes} bytes) or granularity ({granularity})";
            return null;
        }

        // The volume may have grown since (a grow then a clean stop saves the grown size, so this
        // is a map older than the catalog): the added regions read zeroes and are left clean.
        var bitmap = new DirtyBitmap(volumeBytes);
        for (int i = 0; i < words; i++)
        {
            ulong word = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(HeaderBytes + (8 * i)));
            for (; word != 0; word &= word - 1)
            {
                long region = (64L * i) + BitOperations.TrailingZeroCount(word);
                bitmap.MarkWritten(region * granularity, 1);
            }
        }

        problem = null;
        return bitmap;
    }

    /// <summary>Writes the map for the next <see cref="Open"/>; call once the volume serves no more I/O.</summary>
    public void Save(string path)
    {
        var (words, _, _) = Snapshot(clear: false);
        var current = _current;
        byte[] bytes = new byte[HeaderBytes + (8 * words.Length) + 4];
        Magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), current.VolumeBytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(16), current.Granularity);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(20), words.Length);
        for (int i = 0; i < words.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(HeaderBytes + (8 * i)), words[i]);
        }

        int length = bytes.Length - 4;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(length), Checksum(bytes.AsSpan(0, length)));
        // An incomplete map saved as complete would hide changes: save only what is trusted.
        if (_complete)
        {
            DurableFile.Replace(path, bytes);
        }
    }

    /// <summary>CRC32C (the instruction; a small file read once at open, so byte steps are fine).</summary>
    private static uint Checksum(ReadOnlySpan<byte> bytes)
    {
        uint crc = uint.MaxValue;
        foreach (byte b in bytes)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    /// <summary>False while the map may miss changes (see <see cref="Open"/>); true again once cleared.</summary>
    public bool Complete => _complete;

    /// <summary>Bytes per region.</summary>
    public int Granularity => _current.Granularity;

    public long RegionCount => _current.RegionCount;

    /// <summary>The I/O path's call: lock-free, allocation-free (see <see cref="DirtyBitmap.MarkWritten"/>).</summary>
    public void MarkWritten(long offset, long length) => _current.MarkWritten(offset, length);

    /// <summary>Tracks a grown volume; regions added are clean (they read zeroes).</summary>
    public void Grow(long newVolumeBytes)
    {
        lock (_lock)
        {
            var old = _current;
            if (newVolumeBytes <= old.VolumeBytes)
            {
                return;
            }

            var grown = new DirtyBitmap(newVolumeBytes);
            _retired = [.. _retired, old];
            _current = grown;
        }
    }

    /// <summary>True when the region holding byte <paramref name="offset"/> changed.</summary>
    public bool IsDirty(long offset)
    {
        var (words, _, _) = Snapshot(clear: false);
        return DirtyBitmap.IsRegionSet(words, offset / Granularity);
    }

    public long DirtyRegionCount
    {
        get
        {
            var (words, _, _) = Snapshot(clear: false);
            return words.Sum(w => (long)BitOperations.PopCount(w));
        }
    }

    /// <summary>Returns the map (bit r = region r) and clears it: each change is returned once.</summary>
    public ulong[] SnapshotAndClear() => Snapshot(clear: true).Words;

    /// <summary>
    /// The map now, merged with the retired ones, and whether it was complete; with
    /// <paramref name="clear"/> every bit returned is cleared and the map becomes complete.
    /// </summary>
    public (ulong[] Words, long RegionCount, bool Complete) Snapshot(bool clear)
    {
        lock (_lock)
        {
            var current = _current;
            bool complete = _complete;
            var words = clear ? current.SnapshotAndClear() : current.Copy();
            foreach (var retired in _retired)
            {
                var old = clear ? retired.SnapshotAndClear() : retired.Copy();
                for (int i = 0; i < old.Length && i < words.Length; i++)
                {
                    words[i] |= old[i];
                }
            }

            if (clear)
            {
                _complete = true;
            }

            return (words, current.RegionCount, complete);
        }
    }
}
