using System.Buffers;
using System.Runtime.InteropServices;
using NovaStor.BlockEngine.Reactors;
using NovaStor.Target.Core;

namespace NovaStor.Target.Transport;

/// <summary>
/// One batch of a reactor connection's output: PDU headers, digests and CapsuleResps written into
/// an arena of the batch, read data referenced where it lies (the command's buffer: no copy), and
/// the commands whose slots return to the table once the batch has left. A connection has two: one
/// being sent, one filling. Touched by one thread at a time: the connection's reactor thread
/// (<see cref="ReactorQueue"/>), or the holder of the pipe queue's output lock or sender role
/// (<see cref="PipeQueue"/>).
/// </summary>
/// <remarks>
/// Pieces remember arena offsets, not addresses, until <see cref="Seal"/>: the arena may grow (and
/// move) while the batch fills, never while it is being sent. Steady state allocates nothing: the
/// arena, the piece list and the gather list keep their size from batch to batch.
/// </remarks>
internal sealed unsafe class OutputBatch : IDisposable
{
    private byte* _arena;
    private int _arenaCapacity;
    private int _arenaUsed;
    private Piece[] _pieces = new Piece[256];
    private int _pieceCount;
    private NvmeRequest[] _held = new NvmeRequest[128];
    private int _heldCount;

    public OutputBatch(int arenaBytes = 16 * 1024)
    {
        _arenaCapacity = arenaBytes;
        _arena = (byte*)NativeMemory.Alloc((nuint)arenaBytes);
    }

    /// <summary>What <see cref="Seal"/> made of the pieces: what the reactor sends.</summary>
    public GatherList Gather { get; } = new(256);

    public bool IsEmpty => _pieceCount == 0;

    /// <summary>Commands whose slots return to the table once the batch has been sent.</summary>
    public ReadOnlySpan<NvmeRequest> Held => _held.AsSpan(0, _heldCount);

    /// <summary>Room for <paramref name="length"/> bytes in the arena; <see cref="Commit"/> what was written.</summary>
    public Span<byte> Reserve(int length)
    {
        if (_arenaUsed + length > _arenaCapacity)
        {
            int capacity = Math.Max(_arenaCapacity * 2, _arenaUsed + length);
            _arena = (byte*)NativeMemory.Realloc(_arena, (nuint)capacity);
            _arenaCapacity = capacity;
        }

        return new Span<byte>(_arena + _arenaUsed, length);
    }

    /// <summary>Takes <paramref name="length"/> bytes written into the last <see cref="Reserve"/>; joins the previous arena piece when they touch.</summary>
    public void Commit(int length)
    {
        if (_pieceCount > 0 && _pieces[_pieceCount - 1] is { Address: 0 } last && last.Offset + last.Length == _arenaUsed)
        {
            _pieces[_pieceCount - 1].Length += length;
        }
        else
        {
            Add(new Piece(0, _arenaUsed, length));
        }

        _arenaUsed += length;
    }

    /// <summary>Sends <paramref name="length"/> bytes from <paramref name="address"/> as they are; they must stay put until the batch is sent.</summary>
    public void AddExternal(nint address, int length) => Add(new Piece(address, 0, length));

    public void Hold(NvmeRequest request)
    {
        if (_heldCount == _held.Length)
        {
            Array.Resize(ref _held, _held.Length * 2);
        }

        _held[_heldCount++] = request;
    }

    /// <summary>Fixes the pieces' addresses into <see cref="Gather"/>: the batch is about to be sent.</summary>
    public void Seal()
    {
        Gather.Clear();
        for (int i = 0; i < _pieceCount; i++)
        {
            ref readonly var piece = ref _pieces[i];
            Gather.Add(piece.Address != 0 ? piece.Address : (nint)(_arena + piece.Offset), piece.Length);
        }
    }

    /// <summary>Pieces in the batch (what <see cref="CopyTo"/> counts in).</summary>
    public int PieceCount => _pieceCount;

    /// <summary>
    /// Copies pieces, in order from <paramref name="firstPiece"/>, into <paramref name="output"/>
    /// (the pipe transport's send), stopping before a piece that would take the bytes copied past
    /// <paramref name="maxBytes"/> (the first is always copied). Returns the next piece's index.
    /// </summary>
    public int CopyTo(IBufferWriter<byte> output, int firstPiece, int maxBytes)
    {
        int copied = 0, i = firstPiece;
        for (; i < _pieceCount; i++)
        {
            ref readonly var piece = ref _pieces[i];
            if (i > firstPiece && copied + piece.Length > maxBytes)
            {
                break;
            }

            byte* source = piece.Address != 0 ? (byte*)piece.Address : _arena + piece.Offset;
            output.Write(new ReadOnlySpan<byte>(source, piece.Length));
            copied += piece.Length;
        }

        return i;
    }

    /// <summary>Empties the batch for reuse (after its held commands were released).</summary>
    public void Reset()
    {
        _arenaUsed = 0;
        _pieceCount = 0;
        Array.Clear(_held, 0, _heldCount);
        _heldCount = 0;
        Gather.Clear();
    }

    public void Dispose()
    {
        NativeMemory.Free(_arena);
        _arena = null;
        Gather.Dispose();
    }

    private void Add(in Piece piece)
    {
        if (piece.Length == 0)
        {
            return;
        }

        if (_pieceCount == _pieces.Length)
        {
            Array.Resize(ref _pieces, _pieces.Length * 2);
        }

        _pieces[_pieceCount++] = piece;
    }

    /// <summary>Bytes at <see cref="Address"/>, or in the arena at <see cref="Offset"/> when Address is 0.</summary>
    private record struct Piece(nint Address, int Offset, int Length);
}
