using System.Runtime.InteropServices;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Allocation;

/// <summary>
/// What a thin (sparse) volume file really holds on disk: allocated bytes from statx, and the data
/// extents from lseek(SEEK_DATA / SEEK_HOLE), so the target can report NUSE truthfully.
/// </summary>
/// <remarks>
/// <para>Extents are what the filesystem reports, at its own granularity: a 4 KiB write on ext4 or
/// xfs shows as (at least) one filesystem block of data. Preallocated but unwritten ranges
/// (fallocate without PUNCH_HOLE, ZERO_RANGE) may be reported as data or as holes depending on the
/// filesystem; both read back as zeroes.</para>
/// <para>On a filesystem that does not implement SEEK_DATA / SEEK_HOLE the kernel reports the
/// whole file as data; where lseek refuses the operation (EINVAL) the queried range is reported as
/// one data extent. Either way the answer over-counts, never under-counts.</para>
/// <para>These are control-path queries (one or more system calls per extent): they throw on
/// failure and allocate their results. Not for the I/O path.</para>
/// </remarks>
public static class AllocationMap
{
    /// <summary>Bytes allocated on disk to the file at <paramref name="path"/> (statx st_blocks * 512).</summary>
    /// <exception cref="IOException">statx failed (HResult is the errno; FileNotFoundException for ENOENT).</exception>
    /// <exception cref="UnauthorizedAccessException">Permission denied.</exception>
    public static long AllocatedBytes(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        int errno = Libc.Statx(path, Libc.STATX_BLOCKS, out Libc.StatX st);
        if (errno != 0)
        {
            throw ErrnoException(errno, "statx", path);
        }
        if ((st.Mask & Libc.STATX_BLOCKS) == 0)
        {
            throw new IOException($"statx reports no block count for '{path}'.", Errno.EOPNOTSUPP);
        }
        return checked((long)st.Blocks * 512);
    }

    /// <summary>
    /// The data extents of the file at <paramref name="path"/> within [<paramref name="start"/>,
    /// <paramref name="end"/>), clipped to that range and to the end of file, in ascending order.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">start is negative or end is less than start.</exception>
    /// <exception cref="IOException">The file cannot be opened or queried (HResult is the errno).</exception>
    public static IReadOnlyList<(long Offset, long Length)> DataExtents(string path, long start, long end)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ValidateRange(start, end);
        int fd = OpenForQuery(path);
        try
        {
            var extents = new List<(long Offset, long Length)>();
            int errno = CollectDataExtents(fd, start, end, extents);
            return errno == 0 ? extents : throw ErrnoException(errno, "lseek(SEEK_DATA)", path);
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    /// <summary>
    /// The data extents of an open file within [<paramref name="start"/>, <paramref name="end"/>),
    /// clipped to that range and to the end of file. Moves the handle's file position (positional
    /// I/O such as <see cref="RandomAccess"/> is unaffected).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">start is negative or end is less than start.</exception>
    /// <exception cref="IOException">lseek failed (HResult is the errno).</exception>
    public static IReadOnlyList<(long Offset, long Length)> DataExtents(SafeHandle handle, long start, long end)
    {
        ArgumentNullException.ThrowIfNull(handle);
        ValidateRange(start, end);
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var extents = new List<(long Offset, long Length)>();
            int errno = CollectDataExtents((int)handle.DangerousGetHandle(), start, end, extents);
            return errno == 0 ? extents : throw ErrnoException(errno, "lseek(SEEK_DATA)", "(handle)");
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Number of <paramref name="blockSize"/>-byte blocks of the file that hold any data (the NVMe
    /// NUSE of a volume file): every block touched by a data extent counts once.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">blockSize is not a positive power of two.</exception>
    /// <exception cref="IOException">The file cannot be opened or queried (HResult is the errno).</exception>
    public static long CountAllocatedBlocks(string path, int blockSize)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (blockSize <= 0 || !int.IsPow2(blockSize))
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "The block size must be a positive power of two.");
        }
        int fd = OpenForQuery(path);
        try
        {
            var extents = new List<(long Offset, long Length)>();
            int errno = CollectDataExtents(fd, 0, long.MaxValue, extents);
            if (errno != 0)
            {
                throw ErrnoException(errno, "lseek(SEEK_DATA)", path);
            }
            return CountBlocks(extents, blockSize);
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    /// <summary>Blocks touched by ascending, non-overlapping extents; a block shared by two extents counts once.</summary>
    internal static long CountBlocks(List<(long Offset, long Length)> extents, int blockSize)
    {
        long blocks = 0;
        long counted = 0; // blocks [0, counted) are already counted or lie before the current extent
        foreach ((long offset, long length) in extents)
        {
            long first = Math.Max(offset / blockSize, counted);
            long last = ((offset + length - 1) / blockSize) + 1;
            if (last > first)
            {
                blocks += last - first;
                counted = last;
            }
        }
        return blocks;
    }

    /// <summary>
    /// Appends the data extents of <paramref name="fd"/> within [start, end) to
    /// <paramref name="extents"/>. Returns 0 or errno. Arguments are not validated.
    /// </summary>
    internal static int CollectDataExtents(int fd, long start, long end, List<(long Offset, long Length)> extents)
    {
        long position = start;
        while (position < end)
        {
            long data = Libc.Lseek(fd, position, Libc.SEEK_DATA, out int errno);
            if (data < 0)
            {
                if (errno == Errno.ENXIO)
                {
                    return 0; // no data at or after position (or position is past the end of file)
                }
                if (errno == Errno.EINVAL && extents.Count == 0 && position == start)
                {
                    return WholeRangeAsData(fd, start, end, extents); // SEEK_DATA not supported here
                }
                return errno;
            }
            if (data >= end)
            {
                return 0;
            }
            long hole = Libc.Lseek(fd, data, Libc.SEEK_HOLE, out errno);
            if (hole < 0)
            {
                // ENXIO: the file was truncated between the two calls; nothing more to report.
                return errno == Errno.ENXIO ? 0 : errno;
            }
            long extentEnd = Math.Min(hole, end);
            if (extentEnd <= data)
            {
                return Errno.EIO; // the kernel contradicted itself; do not spin
            }
            extents.Add((data, extentEnd - data));
            position = extentEnd;
        }
        return 0;
    }

    private static int WholeRangeAsData(int fd, long start, long end, List<(long Offset, long Length)> extents)
    {
        int errno = Libc.Statx(fd, Libc.STATX_SIZE, out Libc.StatX st);
        if (errno != 0)
        {
            return errno;
        }
        long stop = Math.Min(end, (long)st.Size);
        if (stop > start)
        {
            extents.Add((start, stop - start));
        }
        return 0;
    }

    private static int OpenForQuery(string path)
    {
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0, out int errno);
        return fd >= 0 ? fd : throw ErrnoException(errno, "open", path);
    }

    private static void ValidateRange(long start, long end)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfLessThan(end, start);
    }

    private static Exception ErrnoException(int errno, string operation, string path)
    {
        string message = $"Cannot {operation} '{path}' for an allocation query: {Libc.Describe(errno)}.";
        return errno switch
        {
            Errno.ENOENT => new FileNotFoundException(message, path),
            Errno.EACCES or Errno.EPERM => new UnauthorizedAccessException(message),
            _ => new IOException(message, errno),
        };
    }
}
