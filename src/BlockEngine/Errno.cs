using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine;

/// <summary>
/// Linux errno values reported by <see cref="IBlockCompletion.OnBlockCompleted"/>, so the target
/// can map them to NVMe statuses. The values are the asm-generic ones, identical on x86-64 and arm64.
/// </summary>
/// <remarks>
/// What the volumes in this assembly report:
/// <list type="bullet">
/// <item><see cref="EINVAL"/>: a malformed request (offset or length not a multiple of the block
/// size, zero length, negative offset, null or misaligned buffer, unknown operation).</item>
/// <item><see cref="ERANGE"/>: a well-formed range that ends past the end of the volume.</item>
/// <item><see cref="ENODEV"/>: the volume was disposed before the request was accepted.</item>
/// <item><see cref="EIO"/>, <see cref="ENOSPC"/>, <see cref="EDQUOT"/>, ...: whatever the kernel
/// reported for the operation (ENOSPC on a full thin file), or EIO for an unexpected end of file.</item>
/// </list>
/// </remarks>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int ENXIO = 6;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int EFBIG = 27;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int ERANGE = 34;
    public const int ENOSYS = 38;
    public const int EOPNOTSUPP = 95;
    public const int ETIMEDOUT = 110;
    public const int EDQUOT = 122;

    /// <summary>The C library's text for an errno ("Input/output error"), for logs and messages.</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
