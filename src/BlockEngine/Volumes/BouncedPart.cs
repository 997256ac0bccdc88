namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// One part of a striped request whose buffer address its member cannot take: the data goes through
/// a freshly aligned buffer (copied in before a write, out after a read). The rare path, so it
/// allocates; see <see cref="StripedVolume"/>.
/// </summary>
internal sealed class BouncedPart : IBlockCompletion
{
    private readonly AlignedBuffer _bounce;
    private readonly nint _target;
    private readonly bool _copyOut;
    private readonly IBlockCompletion _parent;

    private BouncedPart(AlignedBuffer bounce, nint target, bool copyOut, IBlockCompletion parent)
    {
        _bounce = bounce;
        _target = target;
        _copyOut = copyOut;
        _parent = parent;
    }

    /// <param name="part">A read or write of at most one chunk (so its length fits an int).</param>
    public static unsafe void Submit(IBlockVolume member, in BlockRequest part, IBlockCompletion parent)
    {
        int length = checked((int)part.Length);
        var bounce = new AlignedBuffer(length);
        if (part.Operation == BlockOperation.Write)
        {
            new ReadOnlySpan<byte>((void*)part.Buffer, length).CopyTo(bounce.Span);
        }

        var bounced = new BouncedPart(bounce, part.Buffer, part.Operation == BlockOperation.Read, parent);
        member.Submit(part with { Buffer = bounce.Address }, bounced, 0);
    }

    public unsafe void OnBlockCompleted(ulong userData, int error)
    {
        if (_copyOut && error == 0)
        {
            _bounce.Span.CopyTo(new Span<byte>((void*)_target, _bounce.Length));
        }

        _bounce.Dispose();
        _parent.OnBlockCompleted(0, error);
    }
}
