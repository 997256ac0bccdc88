using System.Runtime.InteropServices;
using NovaStor.BlockEngine.Native;

namespace NovaStor.BlockEngine.Reactors;

/// <summary>
/// Pieces of memory sent in order by one sendmsg(2) on a reactor (a gather write): the bytes are
/// sent from where they lie, not copied into a buffer of the sender's. A short send leaves the
/// rest: <see cref="Consume"/> what was sent and send again. Native memory, reused; it grows only
/// when a batch has more pieces than any before it.
/// </summary>
/// <remarks>Touched by one thread at a time; the pieces must stay valid until the send completes.</remarks>
public sealed unsafe class GatherList : IDisposable
{
    /// <summary>IOV_MAX: sendmsg takes at most this many pieces; the rest go with the next send.</summary>
    public const int MaxPiecesPerSend = 1024;

    private Libc.Iovec* _pieces;
    private int _capacity;
    private int _count;
    private int _next;
    private long _remaining;
    private MessageHeader* _message;

    public GatherList(int initialCapacity = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(initialCapacity, 1);
        _capacity = initialCapacity;
        _pieces = (Libc.Iovec*)NativeMemory.Alloc((nuint)_capacity, (nuint)sizeof(Libc.Iovec));
        _message = (MessageHeader*)NativeMemory.AllocZeroed((nuint)sizeof(MessageHeader));
    }

    /// <summary>Bytes not sent yet.</summary>
    public long RemainingBytes => _remaining;

    public bool IsEmpty => _remaining == 0;

    /// <summary>Pieces not (wholly) sent yet.</summary>
    public int PieceCount => _count - _next;

    /// <summary>Appends <paramref name="length"/> bytes at <paramref name="address"/>; empty pieces are skipped.</summary>
    public void Add(nint address, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0)
        {
            return;
        }
        ObjectDisposedException.ThrowIf(_pieces is null, this);
        if (_count == _capacity)
        {
            Grow();
        }
        _pieces[_count].Base = (void*)address;
        _pieces[_count].Length = (nuint)length;
        _count++;
        _remaining += length;
    }

    /// <summary>Forgets every piece (after the send finished).</summary>
    public void Clear()
    {
        _count = 0;
        _next = 0;
        _remaining = 0;
    }

    /// <summary>Drops the first <paramref name="bytes"/> bytes, which a send reported as sent.</summary>
    public void Consume(int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bytes, _remaining);
        _remaining -= bytes;
        while (bytes > 0)
        {
            ref Libc.Iovec piece = ref _pieces[_next];
            if ((nuint)bytes >= piece.Length)
            {
                bytes -= (int)piece.Length;
                _next++;
            }
            else
            {
                piece.Base = (byte*)piece.Base + bytes;
                piece.Length -= (nuint)bytes;
                bytes = 0;
            }
        }
        if (_remaining == 0)
        {
            Clear();
        }
    }

    /// <summary>A struct msghdr naming the unsent pieces (at most <see cref="MaxPiecesPerSend"/>); valid until the next change.</summary>
    internal nint PrepareMessage()
    {
        _message->Iov = _pieces + _next;
        _message->IovLength = (nuint)Math.Min(_count - _next, MaxPiecesPerSend);
        return (nint)_message;
    }

    public void Dispose()
    {
        NativeMemory.Free(_pieces);
        NativeMemory.Free(_message);
        _pieces = null;
        _message = null;
        _capacity = 0;
        Clear();
    }

    private void Grow()
    {
        _capacity *= 2;
        _pieces = (Libc.Iovec*)NativeMemory.Realloc(_pieces, (nuint)_capacity * (nuint)sizeof(Libc.Iovec));
    }

    /// <summary>struct msghdr (56 bytes on 64-bit Linux): no address, no control data, one gather list.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 56)]
    private struct MessageHeader
    {
        [FieldOffset(0)] public void* Name;
        [FieldOffset(8)] public uint NameLength;
        [FieldOffset(16)] public Libc.Iovec* Iov;
        [FieldOffset(24)] public nuint IovLength;
        [FieldOffset(32)] public void* Control;
        [FieldOffset(40)] public nuint ControlLength;
        [FieldOffset(48)] public int Flags;
    }
}
