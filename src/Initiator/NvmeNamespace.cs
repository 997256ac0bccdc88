using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using NovaStor.Initiator.Identify;
using NovaStor.Initiator.Session;
using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>
/// One namespace of an <see cref="NvmeController"/>: block I/O on caller-provided memory.
/// Every method returns the NVMe status as a value (<see cref="NvmeResult"/>). Commands go to
/// a connected path where the namespace's ANA group is optimized, else non-optimized; a path
/// status or a transport failure sends them again on another usable path, or waits for one to
/// reconnect, and ends in the path status (no usable path, one connected) or in
/// <see cref="ControllerLostException"/> after the controller-loss timeout. Requests larger than MDTS are split into commands of at
/// most MDTS, two in flight at a time; the first error status is returned. Nothing is
/// allocated per call in steady state (pooled async state machines, pooled slots).
/// </summary>
/// <remarks>
/// Addresses and lengths are in logical blocks; buffers must be whole blocks and stay untouched
/// until the result completes. A cancellation token is honoured before a command is sent and
/// while it waits for a reconnect; a command already on the wire runs to completion (NVMe/TCP
/// hosts do not abort single commands), bounded by the I/O timeout.
/// </remarks>
public sealed class NvmeNamespace
{
    // Write Zeroes and Copy ranges count blocks in 16 bits (0-based): at most 65536 per command.
    private const int MaxBlocksPerCommand = 1 << 16;
    private const int DeallocateRangeSize = 16, CopyRangeSize = 32;

    private readonly NvmeController _controller;
    private NamespaceInfo _info;
    private NamespacePaths _paths;

    internal NvmeNamespace(NvmeController controller, NamespaceInfo info)
    {
        _controller = controller;
        _info = info;
        IsActive = true;
        _paths = new NamespacePaths([], [], [], StatusCodes.AnaInaccessible);
    }

    /// <summary>
    /// Where this namespace's commands may go, by ANA; the controller swaps in a new choice when a
    /// path or an ANA state changes, and a command reads it with one load, without a lock.
    /// </summary>
    internal NamespacePaths Paths
    {
        get => Volatile.Read(ref _paths);
        set => Volatile.Write(ref _paths, value);
    }

    public uint Id => _info.Id;

    /// <summary>Identify Namespace as last scanned.</summary>
    public NamespaceInfo Info => _info;

    public int BlockSize => _info.BlockSize;

    public ulong BlockCount => _info.BlockCount;

    /// <summary>False once a rescan no longer lists the namespace.</summary>
    public bool IsActive { get; private set; }

    /// <summary>Blocks one data-moving command carries: MDTS, and never more than 65536.</summary>
    public int MaxBlocksPerTransfer => Math.Max(1, Math.Min(_controller.MaxTransferBytes / BlockSize, MaxBlocksPerCommand));

    internal bool Update(NamespaceInfo? info)
    {
        if (info is null)
        {
            bool was = IsActive;
            IsActive = false;
            return was;
        }

        bool changed = !IsActive || info.BlockCount != _info.BlockCount || info.BlockSize != _info.BlockSize;
        _info = info;
        IsActive = true;
        return changed;
    }

    /// <summary>Reads <c>buffer.Length / BlockSize</c> blocks from <paramref name="firstBlock"/> into <paramref name="buffer"/>.</summary>
    public ValueTask<NvmeResult> ReadAsync(ulong firstBlock, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int blocks = Blocks(buffer.Length);
        return blocks <= MaxBlocksPerTransfer
            ? _controller.ExecuteIoAsync(this, NvmeCommands.Read(Id, firstBlock, blocks), default, buffer, cancellationToken)
            : SplitAsync(IoOpcode.Read, firstBlock, default, buffer, false, cancellationToken);
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="firstBlock"/>; with <paramref name="forceUnitAccess"/> it is durable on completion.</summary>
    public ValueTask<NvmeResult> WriteAsync(ulong firstBlock, ReadOnlyMemory<byte> data, bool forceUnitAccess = false, CancellationToken cancellationToken = default)
    {
        int blocks = Blocks(data.Length);
        return blocks <= MaxBlocksPerTransfer
            ? _controller.ExecuteIoAsync(this, NvmeCommands.Write(Id, firstBlock, blocks, forceUnitAccess), data, default, cancellationToken)
            : SplitAsync(IoOpcode.Write, firstBlock, data, default, forceUnitAccess, cancellationToken);
    }

    /// <summary>Compare: success when the blocks at <paramref name="firstBlock"/> equal <paramref name="data"/>, else Compare Failure.</summary>
    public ValueTask<NvmeResult> CompareAsync(ulong firstBlock, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        int blocks = Blocks(data.Length);
        return blocks <= MaxBlocksPerTransfer
            ? _controller.ExecuteIoAsync(this, NvmeCommands.Compare(Id, firstBlock, blocks), data, default, cancellationToken)
            : SplitAsync(IoOpcode.Compare, firstBlock, data, default, false, cancellationToken);
    }

    /// <summary>Makes every completed write durable.</summary>
    public ValueTask<NvmeResult> FlushAsync(CancellationToken cancellationToken = default) =>
        _controller.ExecuteIoAsync(this, NvmeCommands.Flush(Id), default, default, cancellationToken);

    /// <summary>Write Zeroes over <paramref name="blockCount"/> blocks; <paramref name="deallocate"/> sets DEAC.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<NvmeResult> WriteZeroesAsync(ulong firstBlock, long blockCount, bool deallocate = false, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockCount, 1);
        for (long done = 0; done < blockCount;)
        {
            int blocks = (int)Math.Min(blockCount - done, MaxBlocksPerCommand);
            var result = await _controller.ExecuteIoAsync(this, NvmeCommands.WriteZeroes(Id, firstBlock + (ulong)done, blocks, deallocate), default, default, cancellationToken).ConfigureAwait(false);
            if (!result.IsSuccess)
            {
                return result;
            }

            done += blocks;
        }

        return NvmeResult.Success;
    }

    /// <summary>Dataset Management with AD (deallocate) over one range.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<NvmeResult> DeallocateAsync(ulong firstBlock, long blockCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockCount, 1);
        var range = ArrayPool<byte>.Shared.Rent(DeallocateRangeSize);
        try
        {
            for (long done = 0; done < blockCount;)
            {
                uint blocks = (uint)Math.Min(blockCount - done, uint.MaxValue);
                // Range: context attributes u32 @0, NLB u32 @4 (1-based), SLBA u64 @8.
                var span = range.AsSpan(0, DeallocateRangeSize);
                span.Clear();
                BinaryPrimitives.WriteUInt32LittleEndian(span[4..], blocks);
                BinaryPrimitives.WriteUInt64LittleEndian(span[8..], firstBlock + (ulong)done);
                var result = await _controller.ExecuteIoAsync(this, NvmeCommands.DatasetManagement(Id, 1, deallocate: true), range.AsMemory(0, DeallocateRangeSize), default, cancellationToken).ConfigureAwait(false);
                if (!result.IsSuccess)
                {
                    return result;
                }

                done += blocks;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(range);
        }

        return NvmeResult.Success;
    }

    /// <summary>Copy (format 0) of <paramref name="blockCount"/> blocks from <paramref name="sourceBlock"/> to <paramref name="destinationBlock"/>, inside the namespace.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<NvmeResult> CopyAsync(ulong sourceBlock, long blockCount, ulong destinationBlock, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockCount, 1);
        // MSSRL and MCL bound one command when the namespace states them.
        long perCommand = MaxBlocksPerCommand;
        if (_info.MaxSingleSourceRangeLength != 0)
        {
            perCommand = Math.Min(perCommand, _info.MaxSingleSourceRangeLength);
        }

        if (_info.MaxCopyLength != 0)
        {
            perCommand = Math.Min(perCommand, _info.MaxCopyLength);
        }

        var range = ArrayPool<byte>.Shared.Rent(CopyRangeSize);
        try
        {
            for (long done = 0; done < blockCount;)
            {
                int blocks = (int)Math.Min(blockCount - done, perCommand);
                // Format 0 source range (32 bytes): SLBA u64 @8, NLB u16 @16 (0-based).
                var span = range.AsSpan(0, CopyRangeSize);
                span.Clear();
                BinaryPrimitives.WriteUInt64LittleEndian(span[8..], sourceBlock + (ulong)done);
                BinaryPrimitives.WriteUInt16LittleEndian(span[16..], (ushort)(blocks - 1));
                var result = await _controller.ExecuteIoAsync(this, NvmeCommands.Copy(Id, destinationBlock + (ulong)done, 1), range.AsMemory(0, CopyRangeSize), default, cancellationToken).ConfigureAwait(false);
                if (!result.IsSuccess)
                {
                    return result;
                }

                done += blocks;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(range);
        }

        return NvmeResult.Success;
    }

    /// <summary>
    /// Reservation Register: registers this host with <paramref name="newKey"/>, unregisters it, or
    /// replaces its key (checked against <paramref name="currentKey"/> unless
    /// <paramref name="ignoreExistingKey"/>); <paramref name="persist"/> changes PTPL. A conflict
    /// is the status Reservation Conflict.
    /// </summary>
    public async ValueTask<NvmeResult> RegisterReservationAsync(ReservationRegisterAction action, ulong currentKey, ulong newKey, bool ignoreExistingKey = false,
        PersistThroughPowerLossChange persist = PersistThroughPowerLossChange.NoChange, CancellationToken cancellationToken = default)
    {
        var keys = new byte[ReservationCommandFields.TwoKeysLength];
        ReservationCommandFields.WriteKeys(keys, currentKey, newKey);
        return await _controller.ExecuteIoAsync(this, NvmeCommands.ReservationRegister(Id, action, ignoreExistingKey, persist), keys, default, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reservation Acquire: acquire a reservation of <paramref name="type"/>, or preempt the registrants (and reservation) holding <paramref name="preemptKey"/>.</summary>
    public async ValueTask<NvmeResult> AcquireReservationAsync(ReservationAcquireAction action, ReservationType type, ulong currentKey, ulong preemptKey = 0, CancellationToken cancellationToken = default)
    {
        var keys = new byte[ReservationCommandFields.TwoKeysLength];
        ReservationCommandFields.WriteKeys(keys, currentKey, preemptKey);
        return await _controller.ExecuteIoAsync(this, NvmeCommands.ReservationAcquire(Id, action, type), keys, default, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reservation Release: release the reservation this host holds (<paramref name="type"/> must be its type), or clear every registration.</summary>
    public async ValueTask<NvmeResult> ReleaseReservationAsync(ReservationReleaseAction action, ReservationType type, ulong currentKey, CancellationToken cancellationToken = default)
    {
        var key = new byte[ReservationCommandFields.OneKeyLength];
        ReservationCommandFields.WriteKeys(key, currentKey);
        return await _controller.ExecuteIoAsync(this, NvmeCommands.ReservationRelease(Id, action, type), key, default, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reservation Report (extended data structure): the generation, the reservation held and every
    /// registered controller. Throws <see cref="NvmeCommandException"/> when the target refuses it.
    /// </summary>
    public async Task<ReservationStatus> ReportReservationsAsync(int maxControllers = 64, CancellationToken cancellationToken = default)
    {
        var buffer = new byte[ReservationStatus.GetLength(maxControllers, extended: true)];
        var result = await _controller.ExecuteIoAsync(this, NvmeCommands.ReservationReport(Id, buffer.Length), default, buffer, cancellationToken).ConfigureAwait(false);
        result.ThrowIfFailed("Reservation Report");
        return ReservationStatus.Read(buffer, extended: true);
    }

    /// <summary>A transfer larger than MDTS: commands of at most MDTS each, two in flight.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<NvmeResult> SplitAsync(byte opcode, ulong firstBlock, ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, bool forceUnitAccess, CancellationToken cancellationToken)
    {
        int length = Math.Max(dataOut.Length, dataIn.Length);
        int chunk = MaxBlocksPerTransfer * BlockSize;
        var result = NvmeResult.Success;
        ValueTask<NvmeResult> previous = default;
        bool pending = false;
        for (int offset = 0; offset < length; offset += chunk)
        {
            int bytes = Math.Min(chunk, length - offset);
            var command = Command(opcode, firstBlock + (ulong)(offset / BlockSize), bytes / BlockSize, forceUnitAccess);
            var next = _controller.ExecuteIoAsync(this, command, dataOut.IsEmpty ? default : dataOut.Slice(offset, bytes), dataIn.IsEmpty ? default : dataIn.Slice(offset, bytes), cancellationToken);
            if (pending)
            {
                try
                {
                    result = First(result, await previous.ConfigureAwait(false));
                }
                catch
                {
                    // Every issued command is awaited once, or its slot would never be freed.
                    await DrainAsync(next).ConfigureAwait(false);
                    throw;
                }
            }

            previous = next;
            pending = true;
        }

        if (pending)
        {
            result = First(result, await previous.ConfigureAwait(false));
        }

        return result;
    }

    private static async ValueTask DrainAsync(ValueTask<NvmeResult> command)
    {
        try
        {
            await command.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NvmeTransportException or ControllerLostException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private SubmissionQueueEntry Command(byte opcode, ulong firstBlock, int blocks, bool forceUnitAccess) => opcode switch
    {
        IoOpcode.Read => NvmeCommands.Read(Id, firstBlock, blocks),
        IoOpcode.Write => NvmeCommands.Write(Id, firstBlock, blocks, forceUnitAccess),
        _ => NvmeCommands.Compare(Id, firstBlock, blocks),
    };

    private static NvmeResult First(NvmeResult sofar, NvmeResult next) => sofar.IsSuccess ? next : sofar;

    private int Blocks(int bytes)
    {
        if (bytes <= 0 || bytes % BlockSize != 0)
        {
            throw new ArgumentException($"{bytes} bytes is not a whole number of {BlockSize}-byte blocks", nameof(bytes));
        }

        return bytes / BlockSize;
    }
}
