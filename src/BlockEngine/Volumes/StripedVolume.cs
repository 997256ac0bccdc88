using System.Collections.Concurrent;
using System.Numerics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// A volume striped over several member volumes (one per drive) in fixed-size chunks: chunk c is
/// owned by the member straw2 picks for (volume id, c), weighted by the members' capacities.
/// </summary>
/// <remarks>
/// <para>Layout: every member has the full logical size of the volume and a chunk lives at the same
/// offset in the member that owns it. The members are sparse files, so the chunks a member does not
/// own are holes that cost nothing; in exchange there is no remapping table to persist, keep
/// consistent or lose in a crash, and adjacent chunks owned by the same member go out as one request.
/// A member's file is therefore as long as the volume, but only about 1/width of it is ever allocated.</para>
/// <para>Requests are split at chunk boundaries; Flush goes to every member; the caller's completion
/// fires exactly once, after every part, with the first non-zero errno a part reported. The state
/// that gathers the parts is pooled, so steady-state requests allocate nothing. A part whose buffer
/// address is not aligned for its member (a 512-byte-block volume whose request starts off a 4 KiB
/// boundary and crosses a chunk, on a member wanting 4 KiB buffers) goes through a bounce buffer:
/// rare, and allocated per part.</para>
/// <para>The striped volume owns its members and disposes them once every accepted request has
/// completed (<see cref="VolumeLifetime"/>).</para>
/// </remarks>
public sealed class StripedVolume : IBlockVolume, IAllocationQuery, IGrowableVolume
{
    /// <summary>The production striping unit.</summary>
    public const int DefaultChunkBytes = VolumeRecord.DefaultChunkBytes;

    /// <summary>Smallest chunk: at least the largest block size, so a block never straddles two members.</summary>
    public const int MinChunkBytes = 4096;

    public const int MaxChunkBytes = 1 << 30;

    private readonly IBlockVolume[] _members;
    private readonly ulong[] _memberIds;
    private readonly double[] _weights;
    private readonly nint[] _memberAlignmentMasks;
    private readonly Guid _volumeId;
    private readonly int _chunkShift;
    private readonly long _blockMask;
    private readonly nint _alignmentMask;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly VolumeLifetime _lifetime;
    private readonly ConcurrentQueue<StripeRequest> _pool = new();

    /// <summary>Builds a striped volume over <paramref name="members"/>, which it then owns (and disposes).</summary>
    /// <param name="volumeId">The volume's identity: with a chunk index, the placement key.</param>
    /// <param name="members">Volumes of the same size and block size, one per drive.</param>
    /// <param name="memberIds">Stable ids of the members (<see cref="Straw2.StableId"/> of the drive ids), not their positions.</param>
    /// <param name="weights">Positive placement weights, the drives' capacities when the volume was created.</param>
    /// <param name="chunkBytes">The striping unit: a power of two from <see cref="MinChunkBytes"/> to <see cref="MaxChunkBytes"/>.</param>
    /// <exception cref="ArgumentException">The members disagree, or ids, weights or chunk size are not valid; the members are not disposed.</exception>
    public StripedVolume(Guid volumeId, IReadOnlyList<IBlockVolume> members, ReadOnlySpan<ulong> memberIds, ReadOnlySpan<double> weights,
        int chunkBytes = DefaultChunkBytes, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0 || memberIds.Length != members.Count || weights.Length != members.Count)
        {
            throw new ArgumentException("A striped volume needs at least one member, and one id and one weight per member.", nameof(members));
        }

        if (!IsValidChunkSize(chunkBytes))
        {
            throw new ArgumentOutOfRangeException(nameof(chunkBytes), chunkBytes, $"The chunk size must be a power of two from {MinChunkBytes} to {MaxChunkBytes}.");
        }

        _members = [.. members];
        _memberIds = memberIds.ToArray();
        _weights = weights.ToArray();
        _memberAlignmentMasks = new nint[_members.Length];
        _sizeBytes = _members[0].SizeBytes;
        BlockSize = _members[0].BlockSize;
        DeallocatedReadsZeroes = true;
        for (int i = 0; i < _members.Length; i++)
        {
            var member = _members[i] ?? throw new ArgumentException($"Member {i} is null.", nameof(members));
            if (member.SizeBytes != SizeBytes || member.BlockSize != BlockSize)
            {
                throw new ArgumentException(
                    $"Member {i} has {member.SizeBytes} bytes in blocks of {member.BlockSize}; member 0 has {SizeBytes} in blocks of {BlockSize}. Every member holds the full volume.",
                    nameof(members));
            }

            if (!(_weights[i] > 0) || !double.IsFinite(_weights[i]) || Array.IndexOf(_memberIds, _memberIds[i]) != i)
            {
                throw new ArgumentException($"Member {i} needs a positive weight and an id no other member has.", nameof(memberIds));
            }

            BufferAlignment = Math.Max(BufferAlignment, member.BufferAlignment);
            DeallocatedReadsZeroes &= member.DeallocatedReadsZeroes;
            _memberAlignmentMasks[i] = member.BufferAlignment - 1;
        }

        _volumeId = volumeId;
        ChunkBytes = chunkBytes;
        _chunkShift = BitOperations.Log2((uint)chunkBytes);
        _blockMask = BlockSize - 1;
        _alignmentMask = BufferAlignment - 1;
        _name = $"striped {volumeId}";
        _logger = logger ?? NullLogger.Instance;
        _lifetime = new VolumeLifetime(_name, DisposeMembers, _logger);
    }

    private long _sizeBytes;

    public long SizeBytes => Volatile.Read(ref _sizeBytes);

    public int BlockSize { get; }

    /// <summary>
    /// Grows every member (each holds the whole address space), then the volume: chunks past the
    /// old end get owners from the same placement, so no existing chunk moves.
    /// </summary>
    public void Grow(long newSizeBytes)
    {
        long current = SizeBytes;
        if (newSizeBytes < current || newSizeBytes % BlockSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(newSizeBytes), newSizeBytes, $"A volume of {current} bytes grows only, in whole blocks of {BlockSize}.");
        }

        foreach (var member in _members)
        {
            (member as IGrowableVolume ?? throw new InvalidOperationException($"Member {member.GetType().Name} of {_name} cannot grow.")).Grow(newSizeBytes);
        }

        Volatile.Write(ref _sizeBytes, newSizeBytes);
    }

    /// <summary>The strictest of the members': a buffer the caller gives may reach any of them.</summary>
    public int BufferAlignment { get; }

    /// <summary>True only when every member guarantees it.</summary>
    public bool DeallocatedReadsZeroes { get; }

    /// <summary>
    /// Data blocks over every member: a chunk holds data only in the member that owns it, so the
    /// members' counts add up. Members that cannot tell count as fully allocated.
    /// </summary>
    public long? CountAllocatedBlocks()
    {
        long blocks = 0;
        foreach (IBlockVolume member in _members)
        {
            blocks += (member as IAllocationQuery)?.CountAllocatedBlocks() ?? member.SizeBytes / member.BlockSize;
        }
        return Math.Min(blocks, SizeBytes / BlockSize);
    }

    /// <summary>The striping unit in bytes.</summary>
    public int ChunkBytes { get; }

    public int MemberCount => _members.Length;

    public static bool IsValidChunkSize(int chunkBytes) =>
        chunkBytes is >= MinChunkBytes and <= MaxChunkBytes && BitOperations.IsPow2(chunkBytes);

    /// <summary>The index of the member owning chunk <paramref name="chunkIndex"/>.</summary>
    public int OwnerOf(long chunkIndex) => Straw2.Select(Straw2.ChunkKey(_volumeId, chunkIndex), _memberIds, _weights);

    public void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var parent = Rent();
        int error = BlockRequestRules.Validate(in request, SizeBytes, _blockMask, _alignmentMask);
        if (error != 0)
        {
            parent.FailLater(completion, userData, error, entered: false);
            return;
        }

        if (!_lifetime.TryEnter())
        {
            parent.FailLater(completion, userData, Errno.ENODEV, entered: false);
            return;
        }

        parent.Start(completion, userData);
        if (request.Operation == BlockOperation.Flush)
        {
            var flush = new BlockRequest(BlockOperation.Flush, 0, 0, 0, request.Flags, request.Lane);
            foreach (var member in _members)
            {
                parent.AddPart();
                member.Submit(in flush, parent, 0);
            }
        }
        else
        {
            Split(in request, parent);
        }

        parent.OnBlockCompleted(0, 0); // the submitter's own part: nothing completes before every part is out
    }

    /// <summary>Stops accepting requests (later ones complete with ENODEV), waits a bounded time for
    /// the accepted ones, then disposes the members (or lets the last straggler dispose them).</summary>
    public void Dispose() => _lifetime.Close(VolumeDispatcher.DisposeWait);

    /// <summary>Sends each run of adjacent chunks with one owner as one request to that owner.</summary>
    private void Split(in BlockRequest request, StripeRequest parent)
    {
        long end = request.Offset + request.Length;
        long chunk = request.Offset >> _chunkShift;
        int owner = OwnerOf(chunk);
        long runStart = request.Offset;
        for (long boundary = (chunk + 1) << _chunkShift; boundary < end; boundary += ChunkBytes)
        {
            int next = OwnerOf(++chunk);
            if (next != owner)
            {
                SubmitPart(in request, parent, owner, runStart, boundary - runStart);
                owner = next;
                runStart = boundary;
            }
        }

        SubmitPart(in request, parent, owner, runStart, end - runStart);
    }

    private void SubmitPart(in BlockRequest request, StripeRequest parent, int owner, long offset, long length)
    {
        nint buffer = request.Buffer == 0 ? 0 : request.Buffer + (nint)(offset - request.Offset);
        var member = _members[owner];
        if ((buffer & _memberAlignmentMasks[owner]) == 0)
        {
            parent.AddPart();
            var part = request with { Offset = offset, Length = length, Buffer = buffer };
            member.Submit(in part, parent, 0);
            return;
        }

        // Only a part starting on a chunk boundary can be misaligned (the first part uses the
        // caller's buffer, aligned for every member), so chunk-sized bounces cover the run.
        for (long at = offset; at < offset + length; at += ChunkBytes)
        {
            long piece = Math.Min(ChunkBytes, offset + length - at);
            parent.AddPart();
            BouncedPart.Submit(member, request with { Offset = at, Length = piece, Buffer = buffer + (nint)(at - offset) }, parent);
        }
    }

    private StripeRequest Rent() => _pool.TryDequeue(out var parent) ? parent : new StripeRequest(this);

    /// <summary>Called by a request when its last part completed: recycle it, then tell the caller.</summary>
    internal void Finish(StripeRequest parent, IBlockCompletion completion, ulong userData, int error, bool entered)
    {
        // Back to the pool before the callback: the callback may submit again and reuse it.
        _pool.Enqueue(parent);
        try
        {
            completion.OnBlockCompleted(userData, error);
        }
        catch (Exception ex)
        {
            Log.CompletionThrew(_logger, _name, userData, ex);
        }
        finally
        {
            if (entered)
            {
                _lifetime.Exit();
            }
        }
    }

    private void DisposeMembers()
    {
        foreach (var member in _members)
        {
            try
            {
                member.Dispose();
            }
            catch (Exception ex)
            {
                Log.ReleaseFailed(_logger, _name, ex);
            }
        }
    }
}
