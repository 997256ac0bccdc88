using System.Numerics;

namespace NovaStor.BlockEngine.Allocation;

/// <summary>
/// Which fixed-size regions (64 KiB by default) of a volume were written since the bitmap was last
/// cleared: for incremental backup and replica resync. One bit per region, 64 regions per word.
/// </summary>
/// <remarks>
/// <para><see cref="MarkWritten"/> is the I/O-path operation: lock-free (an atomic OR per touched
/// word, skipped when the bits are already set), allocation-free, safe from any number of threads,
/// and it never throws for a range outside the volume: the range is clamped to [0,
/// <see cref="VolumeBytes"/>) and a range entirely outside it marks nothing (callers validate
/// request ranges before the I/O). Call it after the write completed and before it is acknowledged:
/// a reader that takes a snapshot and then reads the marked regions then sees the new data, or the
/// region stays marked for the next snapshot.</para>
/// <para><see cref="SnapshotAndClear"/> and <see cref="CopyAndClear"/> swap each word with zero
/// atomically: a mark racing with them lands either in the returned snapshot or in the bitmap,
/// never in neither. They may run concurrently with marks and with each other (each set bit is
/// then returned by exactly one of them).</para>
/// <para><see cref="Resize"/> must not run concurrently with any other member: the caller
/// quiesces I/O on the volume around a resize, as it does for the resize itself.</para>
/// </remarks>
public sealed class DirtyBitmap
{
    /// <summary>The region size used when none is given: 64 KiB.</summary>
    public const int DefaultGranularity = 64 * 1024;

    private readonly int _shift;
    private ulong[] _words;
    private long _volumeBytes;
    private long _regionCount;

    /// <summary>A clean bitmap for a volume of <paramref name="volumeBytes"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">volumeBytes is negative or needs too many regions, or granularity is not a power of two of at least 512.</exception>
    public DirtyBitmap(long volumeBytes, int granularity = DefaultGranularity)
    {
        if (granularity < 512 || !int.IsPow2(granularity))
        {
            throw new ArgumentOutOfRangeException(nameof(granularity), granularity, "The granularity must be a power of two of at least 512 bytes.");
        }
        _shift = BitOperations.Log2((uint)granularity);
        Granularity = granularity;
        _words = new ulong[WordsFor(volumeBytes, nameof(volumeBytes))];
        _volumeBytes = volumeBytes;
        _regionCount = RegionsFor(volumeBytes);
    }

    /// <summary>Bytes covered by one bit.</summary>
    public int Granularity { get; }

    /// <summary>Size of the tracked volume; the last region may be partial.</summary>
    public long VolumeBytes => _volumeBytes;

    /// <summary>Number of regions (bits in use): VolumeBytes / Granularity, rounded up.</summary>
    public long RegionCount => _regionCount;

    /// <summary>Number of 64-bit words a snapshot holds (bit r of the map is bit r % 64 of word r / 64).</summary>
    public int WordCount => _words.Length;

    /// <summary>
    /// Number of dirty regions right now. Counts the whole map (one pass over
    /// <see cref="WordCount"/> words); under concurrent marks it is a moment's approximation.
    /// </summary>
    public long DirtyRegionCount
    {
        get
        {
            ulong[] words = _words;
            long count = 0;
            for (int i = 0; i < words.Length; i++)
            {
                count += BitOperations.PopCount(Volatile.Read(ref words[i]));
            }
            return count;
        }
    }

    /// <summary>
    /// Marks every region that [<paramref name="offset"/>, offset + <paramref name="length"/>)
    /// touches. Lock-free and allocation-free. Clamped to the volume: a negative offset starts at
    /// 0, a range past the end stops at <see cref="VolumeBytes"/>, and a range with no byte inside
    /// the volume (or a length of zero or less) marks nothing.
    /// </summary>
    public void MarkWritten(long offset, long length)
    {
        long volumeBytes = _volumeBytes;
        if (length <= 0 || offset >= volumeBytes)
        {
            return;
        }
        if (offset < 0)
        {
            if (offset + length <= 0) // negative plus positive: cannot overflow
            {
                return;
            }
            length += offset;
            offset = 0;
        }
        long end = length > volumeBytes - offset ? volumeBytes : offset + length; // no overflow

        ulong[] words = _words;
        long first = offset >> _shift;
        long last = (end - 1) >> _shift;
        int firstWord = (int)(first >> 6);
        int lastWord = (int)(last >> 6);
        ulong firstMask = ulong.MaxValue << (int)(first & 63);
        ulong lastMask = ulong.MaxValue >> (63 - (int)(last & 63));

        // The full fence orders this thread's completed write before the checks below, so a
        // snapshot that still sees a bit this call skipped is taken after the data landed.
        Interlocked.MemoryBarrier();
        if (firstWord == lastWord)
        {
            SetBits(ref words[firstWord], firstMask & lastMask);
            return;
        }
        SetBits(ref words[firstWord], firstMask);
        for (int i = firstWord + 1; i < lastWord; i++)
        {
            SetBits(ref words[i], ulong.MaxValue);
        }
        SetBits(ref words[lastWord], lastMask);
    }

    /// <summary>True when the region holding byte <paramref name="offset"/> is dirty.</summary>
    /// <exception cref="ArgumentOutOfRangeException">offset is negative or not less than <see cref="VolumeBytes"/>.</exception>
    public bool IsDirty(long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(offset, _volumeBytes);
        long region = offset >> _shift;
        return (Volatile.Read(ref _words[region >> 6]) & (1UL << (int)(region & 63))) != 0;
    }

    /// <summary>
    /// Returns the dirty bits (<see cref="WordCount"/> words) and clears them, word by word with an
    /// atomic exchange: a concurrent mark is either in the result or still set afterwards.
    /// </summary>
    public ulong[] SnapshotAndClear()
    {
        var snapshot = new ulong[_words.Length];
        _ = CopyAndClear(snapshot);
        return snapshot;
    }

    /// <summary>The dirty bits now (<see cref="WordCount"/> words), leaving them set.</summary>
    public ulong[] Copy()
    {
        ulong[] words = _words;
        var copy = new ulong[words.Length];
        for (int i = 0; i < words.Length; i++)
        {
            copy[i] = Volatile.Read(ref words[i]);
        }
        return copy;
    }

    /// <summary>
    /// Like <see cref="SnapshotAndClear"/> into <paramref name="destination"/> (no allocation).
    /// Returns the number of words written (<see cref="WordCount"/>).
    /// </summary>
    /// <exception cref="ArgumentException">destination is shorter than <see cref="WordCount"/>.</exception>
    public int CopyAndClear(Span<ulong> destination)
    {
        ulong[] words = _words;
        if (destination.Length < words.Length)
        {
            throw new ArgumentException($"The destination holds {destination.Length} words; the bitmap has {words.Length}.", nameof(destination));
        }
        for (int i = 0; i < words.Length; i++)
        {
            // A word read as zero needs no exchange: a mark after the read stays in the bitmap.
            destination[i] = Volatile.Read(ref words[i]) == 0 ? 0 : Interlocked.Exchange(ref words[i], 0);
        }
        return words.Length;
    }

    /// <summary>
    /// Tracks a volume of <paramref name="newBytes"/> bytes from now on. Regions kept keep their
    /// state; regions added are clean (a grown thin volume reads zeroes there); bits of regions
    /// removed are dropped. Not thread-safe: no mark, snapshot or query may run concurrently.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">newBytes is negative or needs too many regions.</exception>
    public void Resize(long newBytes)
    {
        int wordCount = WordsFor(newBytes, nameof(newBytes));
        long regions = RegionsFor(newBytes);
        ulong[] words = _words;
        if (wordCount != words.Length)
        {
            var resized = new ulong[wordCount];
            Array.Copy(words, resized, Math.Min(words.Length, wordCount));
            words = resized;
        }
        // Clear bits past the last region (the shrunk tail of the last word, if partial).
        if (regions < _regionCount && (regions & 63) != 0)
        {
            words[regions >> 6] &= ulong.MaxValue >> (64 - (int)(regions & 63));
        }
        _words = words;
        _regionCount = regions;
        _volumeBytes = newBytes;
    }

    /// <summary>True when region <paramref name="region"/> is set in a snapshot taken from a bitmap.</summary>
    public static bool IsRegionSet(ReadOnlySpan<ulong> snapshot, long region)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(region);
        return (region >> 6) < snapshot.Length && (snapshot[(int)(region >> 6)] & (1UL << (int)(region & 63))) != 0;
    }

    private static void SetBits(ref ulong word, ulong mask)
    {
        // Reading first keeps a hot, already-dirty word shared in every core's cache instead of
        // bouncing it with a locked write on each request.
        if ((Volatile.Read(ref word) & mask) != mask)
        {
            _ = Interlocked.Or(ref word, mask);
        }
    }

    private long RegionsFor(long bytes) => (long)(((ulong)bytes + (ulong)Granularity - 1) >> _shift);

    private int WordsFor(long bytes, string paramName)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes, paramName);
        long words = (RegionsFor(bytes) + 63) >> 6;
        if (words > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(paramName, bytes, $"A volume of {bytes} bytes needs more regions than a bitmap of granularity {Granularity} can hold.");
        }
        return (int)words;
    }
}
