using System.Buffers;
using System.Runtime.InteropServices;

namespace NovaStor.BlockEngine;

/// <summary>
/// A block of native memory aligned to <see cref="Alignment"/> (a page), zeroed on allocation,
/// that never moves: its <see cref="Address"/> can be handed to the kernel (O_DIRECT) or kept in a
/// <see cref="BlockRequest"/> until the request completes.
/// </summary>
/// <remarks>
/// There is deliberately no finalizer: engines hold the raw address, not this object, so a
/// finalizer could free memory the kernel is still writing into. An undisposed buffer leaks; a
/// disposed one throws <see cref="ObjectDisposedException"/> from every accessor, including the
/// spans of <see cref="Memory"/> handed out earlier. Dispose is idempotent and thread safe, but
/// disposing while another thread still uses the memory is the caller's bug.
/// </remarks>
public sealed unsafe class AlignedBuffer : IDisposable
{
    /// <summary>Alignment of <see cref="Address"/>, in bytes.</summary>
    public const int Alignment = 4096;

    private readonly Manager _manager;
    private readonly IAlignedMemoryOwner? _owner;
    private readonly Memory<byte> _memory;
    private nint _address; // 0 once disposed

    /// <summary>Allocates <paramref name="length"/> zeroed bytes aligned to <see cref="Alignment"/>.</summary>
    public AlignedBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        byte* pointer = (byte*)NativeMemory.AlignedAlloc((nuint)length, Alignment);
        NativeMemory.Clear(pointer, (nuint)length);
        _address = (nint)pointer;
        Length = length;
        _manager = new Manager(this);
        _memory = _manager.Memory;
    }

    /// <summary>
    /// Wraps <paramref name="length"/> bytes at <paramref name="address"/> (aligned, owned by
    /// <paramref name="owner"/>, e.g. a reactor's registered memory); Dispose hands them back.
    /// </summary>
    internal AlignedBuffer(nint address, int length, IAlignedMemoryOwner owner)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        if (address == 0 || address % Alignment != 0)
        {
            throw new ArgumentException($"Address 0x{address:x} is not aligned to {Alignment}.", nameof(address));
        }
        _address = address;
        _owner = owner;
        Length = length;
        _manager = new Manager(this);
        _memory = _manager.Memory;
    }

    /// <summary>Length in bytes.</summary>
    public int Length { get; }

    public bool IsDisposed => Volatile.Read(ref _address) == 0;

    /// <summary>Address of the first byte; a multiple of <see cref="Alignment"/>.</summary>
    public nint Address => (nint)Pointer;

    /// <summary>The whole buffer.</summary>
    public Span<byte> Span => new(Pointer, Length);

    /// <summary>The whole buffer as <see cref="Memory{T}"/> (created once; slicing it does not allocate).</summary>
    public Memory<byte> Memory
    {
        get
        {
            _ = Pointer; // throws once disposed
            return _memory;
        }
    }

    private byte* Pointer
    {
        get
        {
            nint address = Volatile.Read(ref _address);
            ObjectDisposedException.ThrowIf(address == 0, this);
            return (byte*)address;
        }
    }

    /// <summary>Address of the byte at <paramref name="offset"/> (0 &lt;= offset &lt;= Length).</summary>
    public nint AddressAt(int offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, Length);
        return (nint)(Pointer + offset);
    }

    /// <summary>A span over <paramref name="length"/> bytes from <paramref name="start"/>.</summary>
    public Span<byte> AsSpan(int start, int length) => Span.Slice(start, length);

    /// <summary>A memory over <paramref name="length"/> bytes from <paramref name="start"/>.</summary>
    public Memory<byte> AsMemory(int start, int length) => Memory.Slice(start, length);

    /// <summary>Sets every byte to zero.</summary>
    public void Clear() => NativeMemory.Clear(Pointer, (nuint)Length);

    public void Dispose()
    {
        nint address = Interlocked.Exchange(ref _address, 0);
        if (address != 0)
        {
            if (_owner is null)
            {
                NativeMemory.AlignedFree((void*)address);
            }
            else
            {
                _owner.Return(address);
            }
            ((IDisposable)_manager).Dispose();
        }
    }

    /// <summary>Exposes the buffer as Memory without copying; it does not own the memory.</summary>
    private sealed class Manager(AlignedBuffer owner) : MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => owner.Span;

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, owner.Length);
            return new MemoryHandle(owner.Pointer + elementIndex);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}

/// <summary>Memory an <see cref="AlignedBuffer"/> borrows instead of allocating.</summary>
internal interface IAlignedMemoryOwner
{
    /// <summary>Takes back memory a disposed buffer borrowed.</summary>
    void Return(nint address);
}
