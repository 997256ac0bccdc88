using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NovaStor.BlockEngine;

/// <summary>
/// A volume in native memory (page aligned, zeroed at creation) with the same validation,
/// semantics and asynchrony as <see cref="FileVolume"/>: completions arrive on the thread pool, or,
/// for a request submitted on the reactor thread of its lane, on that reactor after the submitter returns.
/// For tests of the layers above and for RAM-backed scratch namespaces; nothing survives Dispose.
/// </summary>
/// <remarks>
/// The whole size is allocated and touched at construction (no thinness). Concurrent requests on
/// overlapping ranges are not ordered, as on a disk. Flush has nothing to do and succeeds.
/// </remarks>
public sealed unsafe class MemoryVolume : IBlockVolume, IVolumeBackend
{
    private const nuint HugePageBytes = 2 << 20;

    /// <summary>Writes this large or larger bypass the cache (<see cref="StreamingCopy"/>).</summary>
    private const long StreamingWriteBytes = 64 * 1024;

    private readonly VolumeDispatcher _dispatcher;
    private byte* _data;

    /// <param name="sizeBytes">A positive multiple of <paramref name="blockSize"/>.</param>
    /// <param name="blockSize">512 or 4096.</param>
    /// <param name="logger">Receives completion callbacks that threw and similar faults.</param>
    public MemoryVolume(long sizeBytes, int blockSize, ILogger? logger = null)
    {
        BlockRequestRules.ThrowIfInvalidGeometry(sizeBytes, blockSize);
        // 2 MiB aligned and advised as huge pages (before the clear faults it in): random 4 KiB
        // reads over a large volume then miss the TLB far less, as SPDK's hugepage-backed malloc bdev.
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)sizeBytes, HugePageBytes);
        _ = Native.Libc.Madvise(_data, (nuint)sizeBytes, Native.Libc.MADV_HUGEPAGE);
        NativeMemory.Clear(_data, (nuint)sizeBytes);
        SizeBytes = sizeBytes;
        BlockSize = blockSize;
        _dispatcher = new VolumeDispatcher(this, "memory", sizeBytes, blockSize, BufferAlignment, logger ?? NullLogger.Instance, inlineOnReactor: true);
    }

    public long SizeBytes { get; }

    public int BlockSize { get; }

    /// <summary>4096, the strictest alignment a <see cref="FileVolume"/> can ask for, so that code
    /// tested against memory also runs against files.</summary>
    public int BufferAlignment => AlignedBuffer.Alignment;

    /// <summary>Always true: Deallocate zeroes the range.</summary>
    public bool DeallocatedReadsZeroes => true;

    public void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
        => _dispatcher.Submit(in request, completion, userData);

    /// <summary>Stops accepting requests (later ones complete with ENODEV), waits a bounded time for
    /// the accepted ones, then frees the memory (or lets the last straggler free it).</summary>
    public void Dispose() => _dispatcher.Dispose(VolumeDispatcher.DisposeWait);

    int IVolumeBackend.Execute(in BlockRequest request)
    {
        byte* at = _data + request.Offset;
        switch (request.Operation)
        {
            case BlockOperation.Read:
                Buffer.MemoryCopy(at, (void*)request.Buffer, request.Length, request.Length);
                return 0;
            case BlockOperation.Write:
                if (request.Length >= StreamingWriteBytes && Avx.IsSupported && ((nint)at & 31) == 0)
                {
                    StreamingCopy((byte*)request.Buffer, at, request.Length);
                }
                else
                {
                    Buffer.MemoryCopy((void*)request.Buffer, at, request.Length, request.Length);
                }

                return 0;
            case BlockOperation.Flush:
                Interlocked.MemoryBarrier();
                return 0;
            case BlockOperation.WriteZeroes:
            case BlockOperation.Deallocate:
                NativeMemory.Clear(at, (nuint)request.Length);
                return 0;
            default:
                return Errno.EINVAL;
        }
    }

    /// <summary>
    /// Copies with non-temporal stores: a large write lands in memory nobody has touched lately, and
    /// ordinary stores would first read every destination line into the cache (and evict the
    /// command buffers the transport is about to reuse). The fence makes the data visible before
    /// the completion is.
    /// </summary>
    private static void StreamingCopy(byte* source, byte* destination, long length)
    {
        long whole = length & ~127L;
        for (long i = 0; i < whole; i += 128)
        {
            var a = Avx.LoadVector256(source + i);
            var b = Avx.LoadVector256(source + i + 32);
            var c = Avx.LoadVector256(source + i + 64);
            var d = Avx.LoadVector256(source + i + 96);
            Avx.StoreAlignedNonTemporal(destination + i, a);
            Avx.StoreAlignedNonTemporal(destination + i + 32, b);
            Avx.StoreAlignedNonTemporal(destination + i + 64, c);
            Avx.StoreAlignedNonTemporal(destination + i + 96, d);
        }

        Sse.StoreFence();
        if (whole < length)
        {
            Buffer.MemoryCopy(source + whole, destination + whole, length - whole, length - whole);
        }
    }

    void IVolumeBackend.ReleaseResources()
    {
        NativeMemory.AlignedFree(_data);
        _data = null;
    }
}
