using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine.Reactors;

/// <summary>
/// One reactor's I/O buffers: a single page-aligned slab cut into equal chunks. The reactor
/// registers the slab with its ring as fixed buffer 0, so a request whose buffer lies inside it
/// runs as READ_FIXED/WRITE_FIXED: the kernel skips pinning and mapping the user pages on every
/// request (get_user_pages), which is most of what O_DIRECT costs above the device.
/// </summary>
/// <remarks>
/// <para>Chunks are rented once, when the reactor's <see cref="CommandBufferPool"/> makes a buffer
/// (or a queue on the socket transport makes a slot's own), and kept until that pool or queue goes,
/// not per I/O, so the short lock here is never on the I/O path. A rented chunk is zeroed: it may
/// have carried another tenant's data.</para>
/// <para>The slab outlives the pool's disposal while any chunk is still rented (a queue may close
/// after its reactor has stopped); the last return frees it.</para>
/// </remarks>
internal sealed unsafe class RegisteredBufferPool : IAlignedMemoryOwner, IDisposable
{
    private readonly Lock _lock = new();
    private readonly Stack<int> _free;
    private nint _slab;
    private int _rented;
    private bool _disposed;

    /// <param name="totalBytes">Slab size; rounded down to whole chunks (at least one).</param>
    /// <param name="chunkBytes">Size of every chunk, a multiple of <see cref="AlignedBuffer.Alignment"/>.</param>
    public RegisteredBufferPool(long totalBytes, int chunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, AlignedBuffer.Alignment);
        if (chunkBytes % AlignedBuffer.Alignment != 0)
        {
            throw new ArgumentException($"Chunk size {chunkBytes} is not a multiple of {AlignedBuffer.Alignment}.", nameof(chunkBytes));
        }
        int chunks = (int)Math.Clamp(totalBytes / chunkBytes, 1, int.MaxValue / chunkBytes);
        ChunkBytes = chunkBytes;
        ChunkCount = chunks;
        SizeBytes = (long)chunks * chunkBytes;
        _slab = (nint)NativeMemory.AlignedAlloc((nuint)SizeBytes, AlignedBuffer.Alignment);
        Start = _slab;
        _free = new Stack<int>(chunks);
        for (int i = chunks - 1; i >= 0; i--)
        {
            _free.Push(i);
        }
    }

    /// <summary>First byte of the slab (what the ring registers).</summary>
    public nint Start { get; }

    public long SizeBytes { get; }

    public int ChunkBytes { get; }

    public int ChunkCount { get; }

    /// <summary>True once the ring accepted the slab as a fixed buffer.</summary>
    public bool IsRegistered { get; set; }

    /// <summary>Chunks rented and not yet returned.</summary>
    public int Rented
    {
        get
        {
            lock (_lock)
            {
                return _rented;
            }
        }
    }

    /// <summary>True when [address, address + length) lies inside the slab.</summary>
    public bool Contains(nint address, long length)
        => address >= Start && length >= 0 && address - Start <= SizeBytes - length;

    /// <summary>A zeroed chunk of <paramref name="length"/> bytes, or null when none is free or it is too long.</summary>
    public AlignedBuffer? TryRent(int length)
    {
        if (length <= 0 || length > ChunkBytes)
        {
            return null;
        }
        int chunk;
        lock (_lock)
        {
            if (_disposed || !_free.TryPop(out chunk))
            {
                return null;
            }
            _rented++;
        }
        nint address = Start + ((nint)chunk * ChunkBytes);
        NativeMemory.Clear((void*)address, (nuint)length);
        return new AlignedBuffer(address, length, this);
    }

    void IAlignedMemoryOwner.Return(nint address)
    {
        nint freeSlab = 0;
        lock (_lock)
        {
            _free.Push((int)((address - Start) / ChunkBytes));
            _rented--;
            if (_disposed && _rented == 0)
            {
                freeSlab = _slab;
                _slab = 0;
            }
        }
        if (freeSlab != 0)
        {
            NativeMemory.AlignedFree((void*)freeSlab);
        }
    }

    /// <summary>Refuses further rents; frees the slab now, or at the last return.</summary>
    public void Dispose()
    {
        nint freeSlab = 0;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            if (_rented == 0)
            {
                freeSlab = _slab;
                _slab = 0;
            }
        }
        if (freeSlab != 0)
        {
            NativeMemory.AlignedFree((void*)freeSlab);
        }
    }
}
