using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine;

/// <summary>
/// What the asynchronous engines' file volumes share (<see cref="Reactors.IoUringFileVolume"/>,
/// <see cref="Aio.AioFileVolume"/>): an opened <see cref="FileVolume"/> they own (its probing,
/// its size, its synchronous fallbacks), the request rules, the reference count that closes the
/// file after the last accepted request, and delivery of a completion that never throws into the
/// engine's thread. Each engine says how a request runs (<see cref="Submit"/>).
/// </summary>
public abstract class EngineFileVolume : IBlockVolume, IAllocationQuery, IGrowableVolume
{
    private static readonly TimeSpan DisposeWait = TimeSpan.FromSeconds(30);

    private readonly long _blockMask;
    private readonly nint _alignmentMask;

    // One reference for the owner plus one per accepted request; the file closes when it reaches zero.
    private readonly VolumeLifetime _lifetime;

    private protected EngineFileVolume(FileVolume file, ILogger logger)
    {
        File = file;
        Logger = logger;
        _lifetime = new VolumeLifetime(file.FilePath, file.Dispose, logger);
        _blockMask = file.BlockSize - 1;
        _alignmentMask = file.BufferAlignment - 1;
    }

    public string FilePath => File.FilePath;

    public long SizeBytes => File.SizeBytes;

    /// <summary>Requests are validated against the file volume's size, so growing it is enough.</summary>
    public void Grow(long newSizeBytes) => File.Grow(newSizeBytes);

    public int BlockSize => File.BlockSize;

    public int BufferAlignment => File.BufferAlignment;

    public bool DeallocatedReadsZeroes => File.DeallocatedReadsZeroes;

    /// <summary>True when the file is open with O_DIRECT.</summary>
    public bool UsesDirectIo => File.UsesDirectIo;

    /// <summary>Data blocks of the file (SEEK_DATA/SEEK_HOLE), as <see cref="FileVolume.CountAllocatedBlocks"/>.</summary>
    public long? CountAllocatedBlocks() => File.CountAllocatedBlocks();

    /// <summary>The file, its descriptor and its synchronous paths.</summary>
    private protected FileVolume File { get; }

    private protected ILogger Logger { get; }

    public abstract void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData);

    /// <summary>
    /// Stops accepting requests (later ones complete with ENODEV), waits a bounded time for the
    /// accepted ones, then closes the file (or lets the last straggler close it).
    /// </summary>
    public void Dispose()
    {
        _lifetime.Close(DisposeWait);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// The rules all backends share (<see cref="BlockRequestRules.Validate"/>), then a reference for
    /// the request: 0 when it is accepted (<see cref="Deliver"/> with accepted = true must follow),
    /// otherwise the errno to complete it with (ENODEV once the volume is disposed).
    /// </summary>
    private protected int Accept(in BlockRequest request)
    {
        int error = BlockRequestRules.Validate(in request, File.SizeBytes, _blockMask, _alignmentMask);
        return error != 0 ? error : _lifetime.TryEnter() ? 0 : Errno.ENODEV;
    }

    /// <summary>
    /// Reports the outcome once; a completion that throws is logged, not propagated. An accepted
    /// request gives its reference back (the last one closes the file after Dispose).
    /// </summary>
    private protected void Deliver(IBlockCompletion completion, ulong userData, int error, bool accepted)
    {
        try
        {
            completion.OnBlockCompleted(userData, error);
        }
        catch (Exception e)
        {
            Log.CompletionThrew(Logger, FilePath, userData, e);
        }
        finally
        {
            if (accepted)
            {
                _lifetime.Exit();
            }
        }
    }
}
