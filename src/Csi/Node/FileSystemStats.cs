using System.Runtime.InteropServices;

namespace NovaStor.Csi.Node;

/// <summary>Bytes and inodes of a mounted filesystem (statvfs(3)).</summary>
internal static partial class FileSystemStats
{
    public readonly record struct Usage(long TotalBytes, long AvailableBytes, long UsedBytes, long TotalInodes, long FreeInodes, long UsedInodes);

    /// <exception cref="IOException">statvfs failed (the path is gone, or not reachable).</exception>
    public static Usage Of(string path)
    {
        if (StatVfs(path, out var s) != 0)
        {
            throw new IOException($"statvfs({path}) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        long unit = (long)s.FragmentSize;
        return new Usage(
            (long)s.Blocks * unit, (long)s.BlocksAvailable * unit, (long)(s.Blocks - s.BlocksFree) * unit,
            (long)s.Files, (long)s.FilesFree, (long)(s.Files - s.FilesFree));
    }

    // struct statvfs on 64-bit Linux (glibc): eleven 64-bit fields, then int __f_spare[6].
    [StructLayout(LayoutKind.Sequential)]
    private struct StatVfsResult
    {
        public ulong BlockSize;
        public ulong FragmentSize;
        public ulong Blocks;
        public ulong BlocksFree;
        public ulong BlocksAvailable;
        public ulong Files;
        public ulong FilesFree;
        public ulong FilesAvailable;
        public ulong FileSystemId;
        public ulong Flags;
        public ulong NameMax;
        public long Spare0;
        public long Spare1;
        public long Spare2;
    }

    [LibraryImport("libc", EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatVfs(string path, out StatVfsResult result);
}
