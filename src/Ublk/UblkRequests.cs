using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Ublk;

/// <summary>
/// Block requests as NVMe commands on one namespace of the managed initiator: read, write (FUA
/// kept), flush, discard (Deallocate) and write zeroes (deallocating unless the request says
/// NOUNMAP). ublk counts 512-byte sectors; the device's logical block size is the namespace's, so
/// every request is whole blocks. An NVMe error becomes the errno the block layer maps back to the
/// nearest block status; a lost controller (the initiator's loss timeout passed) becomes EIO.
/// </summary>
internal sealed partial class UblkRequests(NvmeNamespace ns, ILogger logger)
{
    private const int EIO = 5, ENOSPC = 28, EOPNOTSUPP = 95;

    private readonly int _blockShift = System.Numerics.BitOperations.Log2((uint)ns.BlockSize);

    /// <summary>
    /// Starts <paramref name="request"/>. True when it finished at once (the result is in
    /// <paramref name="state"/>); false when it is in flight, and the state's continuation will post it.
    /// </summary>
    public bool Start(in IoDescriptor request, AlignedBuffer buffer, UblkQueue.TagState state)
    {
        int bytes = (int)(request.SectorCount << 9);
        ulong block = (request.StartSector << 9) >> _blockShift;
        long blocks = bytes >> _blockShift;
        uint flags = request.OpFlags >> 8 << 8;
        ValueTask<NvmeResult> pending;
        int done;
        try
        {
            switch (request.Operation)
            {
                case UblkAbi.OpRead:
                    pending = ns.ReadAsync(block, buffer.Memory[..bytes]);
                    done = bytes;
                    break;
                case UblkAbi.OpWrite:
                    pending = ns.WriteAsync(block, buffer.Memory[..bytes], forceUnitAccess: (flags & UblkAbi.IoFlagFua) != 0);
                    done = bytes;
                    break;
                case UblkAbi.OpFlush:
                    pending = ns.FlushAsync();
                    done = 0;
                    break;
                case UblkAbi.OpDiscard:
                    pending = ns.DeallocateAsync(block, blocks);
                    done = 0;
                    break;
                case UblkAbi.OpWriteZeroes:
                    pending = ns.WriteZeroesAsync(block, blocks, deallocate: (flags & UblkAbi.IoFlagNoUnmap) == 0);
                    done = 0;
                    break;
                default:
                    state.Result = -EOPNOTSUPP;
                    return true;
            }
        }
        catch (Exception e) when (e is ControllerLostException or NvmeTransportException or ObjectDisposedException or InvalidOperationException or ArgumentException)
        {
            Log.RequestFailed(logger, request.Operation, request.StartSector, e.Message);
            state.Result = -EIO;
            return true;
        }

        if (pending.IsCompleted)
        {
            state.Result = Outcome(pending, done, request);
            return true;
        }

        state.Track(this, pending, done, request);
        return false;
    }

    /// <summary>The request's result for the driver: <paramref name="done"/> bytes on success, else -errno.</summary>
    public int Outcome(ValueTask<NvmeResult> completed, int done, in IoDescriptor request)
    {
        NvmeResult result;
        try
        {
            result = completed.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is ControllerLostException or NvmeTransportException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            Log.RequestFailed(logger, request.Operation, request.StartSector, e.Message);
            // A lost controller (its loss timeout passed) is EIO too: what a disk that went away gives.
            return -EIO;
        }

        if (result.IsSuccess)
        {
            return done;
        }

        Log.RequestFailed(logger, request.Operation, request.StartSector, result.StatusName);
        return result.Status == StatusCodes.InvalidOpcode || result.Status == StatusCodes.InvalidField ? -EOPNOTSUPP
            : result.Status == StatusCodes.CapacityExceeded ? -ENOSPC
            : -EIO;
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Warning, "ublk request (op {Operation}, sector {Sector}) failed: {Error}")]
        public static partial void RequestFailed(ILogger logger, byte operation, ulong sector, string error);
    }
}
