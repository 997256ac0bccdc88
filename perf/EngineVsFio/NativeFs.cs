using System.Runtime.InteropServices;

namespace NovaStor.EngineVsFio;

/// <summary>The two filesystem facts the rung checks: which filesystem holds the file, and whether the file is allocated.</summary>
internal static unsafe partial class NativeFs
{
    private const int AtFdCwd = -100;
    private const uint StatxBlocks = 0x400;
    private const int StatfsBytes = 120;
    private const int StatxBytes = 256;
    private const int StatxBlocksOffset = 48; // struct statx is the same on every architecture

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatfsRaw(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxRaw(int dirFd, string path, int flags, uint mask, byte* buffer);

    /// <summary>statfs f_type: the filesystem's magic number.</summary>
    public static long FileSystemMagic(string path)
    {
        byte* buffer = stackalloc byte[StatfsBytes];
        if (StatfsRaw(path, buffer) != 0)
        {
            throw new IOException($"statfs '{path}' failed: errno {Marshal.GetLastPInvokeError()}");
        }
        return *(long*)buffer; // f_type is the first word on 64-bit Linux
    }

    /// <summary>Bytes the file occupies on disk (stx_blocks x 512): below its size means holes.</summary>
    public static long AllocatedBytes(string path)
    {
        byte* buffer = stackalloc byte[StatxBytes];
        if (StatxRaw(AtFdCwd, path, 0, StatxBlocks, buffer) != 0)
        {
            throw new IOException($"statx '{path}' failed: errno {Marshal.GetLastPInvokeError()}");
        }
        return *(long*)(buffer + StatxBlocksOffset) * 512;
    }

    /// <summary>A name for the magic numbers a volume is likely to sit on.</summary>
    public static string Describe(long magic) => magic switch
    {
        0xEF53 => "ext4",
        0x58465342 => "xfs",
        0x9123683E => "btrfs",
        0x01021994 => "tmpfs",
        0x858458F6 => "ramfs",
        0x794C7630 => "overlayfs",
        0x2FC12FC1 => "zfs",
        0x6969 => "nfs",
        _ => $"0x{magic:x}",
    };

    /// <summary>Filesystems in memory: O_DIRECT there is either refused or a memory copy, not storage.</summary>
    public static bool IsMemoryBacked(long magic) => magic is 0x01021994 or 0x858458F6;
}
