namespace NovaStor.BlockEngine;

/// <summary>A volume whose size can grow while it serves I/O (a file whose length the catalog has already extended).</summary>
public interface IGrowableVolume
{
    /// <summary>
    /// Accepts requests up to <paramref name="newSizeBytes"/> from now on. The backing storage must
    /// already be that long; requests in flight are unaffected (they lie below the old size).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The new size is smaller than the current one, or not a multiple of the block size.</exception>
    void Grow(long newSizeBytes);
}
