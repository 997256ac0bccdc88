namespace NovaStor.BlockEngine;

/// <summary>
/// A volume: bytes at offsets, asynchronous and completion based. This is the whole seam
/// between the NVMe target and storage; it knows nothing of NVMe.
/// </summary>
/// <remarks>
/// Submit never blocks and never throws for an I/O failure: the outcome arrives once, through
/// <see cref="IBlockCompletion.OnBlockCompleted"/>, on an engine thread, carrying the caller's
/// <c>userData</c> (the io_uring model: no allocation per request). Read and Write buffers are
/// native memory aligned to <see cref="BufferAlignment"/> and must stay valid until completion.
/// </remarks>
public interface IBlockVolume : IDisposable
{
    /// <summary>Size in bytes; a multiple of <see cref="BlockSize"/>.</summary>
    long SizeBytes { get; }

    /// <summary>Logical block size in bytes (512 or 4096). Offsets and lengths are multiples of it.</summary>
    int BlockSize { get; }

    /// <summary>Alignment the engine needs for buffer addresses.</summary>
    int BufferAlignment { get; }

    /// <summary>True when a deallocated range is guaranteed to read back as zeroes.</summary>
    bool DeallocatedReadsZeroes { get; }

    /// <summary>Starts one request; its completion is reported exactly once.</summary>
    void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData);
}

/// <summary>
/// A volume that can say how much of it is allocated (thin volumes: what hosts see as NUSE).
/// A control-path query: it may make system calls per extent, allocate, and throw IOException.
/// </summary>
public interface IAllocationQuery
{
    /// <summary>
    /// Blocks of <see cref="IBlockVolume.BlockSize"/> bytes that hold data (never under-counted),
    /// or null when the volume is not thin (a block device: every block is always there).
    /// </summary>
    long? CountAllocatedBlocks();
}

/// <summary>Receives the completion of a request submitted to an <see cref="IBlockVolume"/>.</summary>
public interface IBlockCompletion
{
    /// <param name="userData">The value given to Submit.</param>
    /// <param name="error">0 on success, otherwise a positive Linux errno (EIO, ENOSPC, EINVAL...).</param>
    void OnBlockCompleted(ulong userData, int error);
}

public enum BlockOperation : byte
{
    /// <summary>Read Length bytes at Offset into Buffer.</summary>
    Read,
    /// <summary>Write Length bytes from Buffer at Offset.</summary>
    Write,
    /// <summary>Make every write completed before this request durable (fdatasync).</summary>
    Flush,
    /// <summary>The range reads back as zeroes afterwards; space may stay allocated.</summary>
    WriteZeroes,
    /// <summary>Release the range's space; it reads back as zeroes when DeallocatedReadsZeroes.</summary>
    Deallocate,
}

[Flags]
public enum BlockFlags : byte
{
    None = 0,
    /// <summary>Write through to stable media before completing (RWF_DSYNC).</summary>
    ForceUnitAccess = 1,
}

/// <summary>
/// One request. Buffer is used by Read and Write only. Lane (optional) says which engine thread
/// should run it (see <see cref="EngineLane"/>); a volume on another engine ignores it.
/// </summary>
public readonly record struct BlockRequest(
    BlockOperation Operation,
    long Offset,
    long Length,
    nint Buffer = 0,
    BlockFlags Flags = BlockFlags.None,
    EngineLane? Lane = null);
