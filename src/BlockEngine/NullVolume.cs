using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NovaStor.BlockEngine;

/// <summary>
/// A volume with no storage, for measuring the target and the layers above without a disk: every
/// valid request succeeds, writes are discarded, reads return zeroes. Validation, asynchrony and
/// disposal are those of <see cref="MemoryVolume"/> (completions on the thread pool, or on the lane's
/// reactor when submitted there; never on the caller's stack; no allocation per request in steady state).
/// </summary>
/// <remarks>
/// Reads zero-fill the caller's buffer rather than leaving it untouched: the volume then behaves as
/// one whose every block is zero (what Write Zeroes and Deallocate promise), so a reader cannot tell
/// it from a freshly created thin volume, and a benchmark still pays for touching the buffer as a
/// real read would. Nothing is allocated per byte of size, so a volume of any size costs nothing.
/// </remarks>
public sealed unsafe class NullVolume : IBlockVolume, IVolumeBackend
{
    private readonly VolumeDispatcher _dispatcher;

    /// <param name="sizeBytes">A positive multiple of <paramref name="blockSize"/>; costs no memory.</param>
    /// <param name="blockSize">512 or 4096.</param>
    /// <param name="logger">Receives completion callbacks that threw and similar faults.</param>
    public NullVolume(long sizeBytes, int blockSize, ILogger? logger = null)
    {
        BlockRequestRules.ThrowIfInvalidGeometry(sizeBytes, blockSize);
        SizeBytes = sizeBytes;
        BlockSize = blockSize;
        _dispatcher = new VolumeDispatcher(this, "null", sizeBytes, blockSize, BufferAlignment, logger ?? NullLogger.Instance, inlineOnReactor: true);
    }

    public long SizeBytes { get; }

    public int BlockSize { get; }

    /// <summary>4096, as <see cref="MemoryVolume"/>: code measured against this volume must also run against files.</summary>
    public int BufferAlignment => AlignedBuffer.Alignment;

    /// <summary>Always true: every block reads zeroes.</summary>
    public bool DeallocatedReadsZeroes => true;

    public void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
        => _dispatcher.Submit(in request, completion, userData);

    /// <summary>Stops accepting requests (later ones complete with ENODEV) and waits a bounded time for the accepted ones.</summary>
    public void Dispose() => _dispatcher.Dispose(VolumeDispatcher.DisposeWait);

    int IVolumeBackend.Execute(in BlockRequest request)
    {
        if (request.Operation == BlockOperation.Read)
        {
            NativeMemory.Clear((void*)request.Buffer, (nuint)request.Length);
        }
        return 0; // Write, Flush, WriteZeroes, Deallocate: nothing is kept, so nothing to do
    }

    void IVolumeBackend.ReleaseResources()
    {
    }
}
