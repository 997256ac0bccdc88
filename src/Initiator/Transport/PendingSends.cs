using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static NovaStor.Initiator.Transport.LinuxSocketNative;

namespace NovaStor.Initiator.Transport;

/// <summary>
/// PDUs accepted for sending but not (wholly) on the wire yet, in order: those the queue thread
/// coalesces until the end of its receive batch, and the rest of a send the socket did not take
/// whole. Each entry keeps its header bytes here and the caller's data pinned where it is, so
/// a flush is one gathering <c>sendmsg</c> over many PDUs with no staging copy. Only touched under
/// the transport's send lock.
/// </summary>
internal sealed unsafe class PendingSends
{
    /// <summary>Per entry: the header (at most <see cref="QueueTransport.MaxHeaderLength"/> bytes), then the 4-byte data digest.</summary>
    private const int EntryBytes = 80, DigestAt = 76;

    private Entry[] _entries;
    private byte[] _headers;
    private byte* _headerBase;
    private int _head;
    private int _count;

    /// <summary>Bytes of the first entry already sent (a short send stops mid-PDU).</summary>
    private int _headSent;

    public PendingSends(int capacity)
    {
        _entries = new Entry[capacity];
        _headers = GC.AllocateArray<byte>(capacity * EntryBytes, pinned: true);
        _headerBase = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_headers));
    }

    public bool IsEmpty => _count == 0;

    public int Count => _count;

    /// <summary>
    /// Appends a PDU; <paramref name="alreadySent"/> of its bytes went out before (only for the
    /// first entry of an empty list: the rest of a short direct send).
    /// </summary>
    public void Enqueue(ReadOnlySpan<byte> header, ReadOnlyMemory<byte> data, bool dataDigest, uint digest, int alreadySent)
    {
        if (header.Length > DigestAt)
        {
            throw new ArgumentOutOfRangeException(nameof(header), header.Length, "a PDU header is at most 76 bytes");
        }

        if (_count == _entries.Length)
        {
            Grow();
        }

        int index = (_head + _count) % _entries.Length;
        var slot = new Span<byte>(_headerBase + ((long)index * EntryBytes), EntryBytes);
        header.CopyTo(slot);
        bool hasDigest = dataDigest && !data.IsEmpty;
        if (hasDigest)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(slot[DigestAt..], digest);
        }

        _entries[index] = new Entry(header.Length, data, data.IsEmpty ? default : data.Pin(), hasDigest);
        if (_count == 0)
        {
            _headSent = alreadySent;
        }

        _count++;
    }

    /// <summary>Fills <paramref name="vectors"/> with what is still to send, in order; returns how many it used.</summary>
    public int Gather(IoVector* vectors, int max)
    {
        int used = 0;
        int skip = _headSent;
        for (int i = 0; i < _count && used + 3 <= max; i++)
        {
            int index = (_head + i) % _entries.Length;
            ref readonly var entry = ref _entries[index];
            byte* header = _headerBase + ((long)index * EntryBytes);
            Add(vectors, ref used, header, entry.HeaderLength, ref skip);
            Add(vectors, ref used, (byte*)entry.Pin.Pointer, entry.Data.Length, ref skip);
            if (entry.HasDigest)
            {
                Add(vectors, ref used, header + DigestAt, sizeof(uint), ref skip);
            }
        }

        return used;
    }

    /// <summary>The socket took <paramref name="bytes"/>: whole entries leave (their data unpinned), a part is remembered.</summary>
    public void Consume(long bytes)
    {
        long left = _headSent + bytes;
        while (_count > 0)
        {
            ref var entry = ref _entries[_head];
            if (left < entry.Length)
            {
                break;
            }

            left -= entry.Length;
            entry.Pin.Dispose();
            entry = default;
            _head = (_head + 1) % _entries.Length;
            _count--;
        }

        _headSent = (int)left;
        if (_count == 0)
        {
            _head = 0;
            _headSent = 0;
        }
    }

    /// <summary>Drops everything (the connection is gone); the callers' memory is unpinned.</summary>
    public void Clear()
    {
        while (_count > 0)
        {
            _entries[_head].Pin.Dispose();
            _entries[_head] = default;
            _head = (_head + 1) % _entries.Length;
            _count--;
        }

        _head = 0;
        _headSent = 0;
    }

    private static void Add(IoVector* vectors, ref int used, byte* start, int length, ref int skip)
    {
        if (skip >= length)
        {
            skip -= length;
            return;
        }

        vectors[used].Base = start + skip;
        vectors[used].Length = (nuint)(length - skip);
        skip = 0;
        used++;
    }

    /// <summary>Twice the room, entries kept in order (rare: more PDUs waiting than the list was sized for).</summary>
    private void Grow()
    {
        int capacity = _entries.Length * 2;
        var entries = new Entry[capacity];
        var headers = GC.AllocateArray<byte>(capacity * EntryBytes, pinned: true);
        for (int i = 0; i < _count; i++)
        {
            int index = (_head + i) % _entries.Length;
            entries[i] = _entries[index];
            _headers.AsSpan(index * EntryBytes, EntryBytes).CopyTo(headers.AsSpan(i * EntryBytes));
        }

        _entries = entries;
        _headers = headers;
        _headerBase = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(headers));
        _head = 0;
    }

    private readonly record struct Entry(int HeaderLength, ReadOnlyMemory<byte> Data, MemoryHandle Pin, bool HasDigest)
    {
        public int Length => HeaderLength + Data.Length + (HasDigest ? sizeof(uint) : 0);
    }
}
