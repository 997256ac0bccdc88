namespace NovaStor.BlockEngine;

/// <summary>The checks every backend applies before touching storage, so all of them answer alike.</summary>
internal static class BlockRequestRules
{
    /// <summary>The geometry every backend accepts: 512 or 4096-byte blocks, a size that is a multiple of them.</summary>
    /// <param name="allowZeroSize">True where 0 means "the whole device" (block devices).</param>
    /// <exception cref="ArgumentOutOfRangeException">The block size or the size is not acceptable.</exception>
    public static void ThrowIfInvalidGeometry(long sizeBytes, int blockSize, bool allowZeroSize = false)
    {
        if (blockSize is not (512 or 4096))
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "The block size must be 512 or 4096 bytes.");
        }
        if (sizeBytes < 0 || (sizeBytes == 0 && !allowZeroSize) || sizeBytes % blockSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes,
                $"The volume size must be a positive multiple of the block size ({blockSize} bytes).");
        }
    }

    /// <summary>
    /// Returns 0, EINVAL for a malformed request (unknown operation, misaligned or missing buffer,
    /// offset or length not a multiple of the block size), or ERANGE for one past the end.
    /// </summary>
    public static int Validate(in BlockRequest request, long sizeBytes, long blockMask, nint alignmentMask)
    {
        switch (request.Operation)
        {
            case BlockOperation.Flush:
                return 0; // the range of a flush is ignored: it covers the whole volume
            case BlockOperation.Read:
            case BlockOperation.Write:
                if (request.Buffer == 0 || (request.Buffer & alignmentMask) != 0)
                {
                    return Errno.EINVAL;
                }
                break;
            case BlockOperation.WriteZeroes:
            case BlockOperation.Deallocate:
                break;
            default:
                return Errno.EINVAL;
        }

        if (request.Offset < 0 || request.Length <= 0 || ((request.Offset | request.Length) & blockMask) != 0)
        {
            return Errno.EINVAL;
        }

        if (request.Offset > sizeBytes || request.Length > sizeBytes - request.Offset)
        {
            return Errno.ERANGE;
        }

        return 0;
    }
}
