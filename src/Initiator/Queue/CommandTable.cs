using NovaStor.Protocol;

namespace NovaStor.Initiator.Queue;

/// <summary>
/// A queue's fixed command table: one <see cref="CommandSlot"/> per submission queue entry,
/// CID = slot index. When every slot is busy, submitters wait in line (backpressure, not
/// failure); that slow path is the only one that allocates.
/// </summary>
internal sealed class CommandTable
{
    private readonly CommandSlot[] _slots;
    private readonly Stack<CommandSlot> _free;
    private readonly Queue<Waiter> _waiters = new();
    private readonly Lock _lock = new();
    private Exception? _failure;

    /// <param name="runContinuationsAsynchronously">False: an awaiter's continuation runs inline where the response is handled.</param>
    public CommandTable(int capacity, bool runContinuationsAsynchronously = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, ushort.MaxValue);
        _slots = new CommandSlot[capacity];
        _free = new Stack<CommandSlot>(capacity);
        for (int i = capacity - 1; i >= 0; i--)
        {
            _slots[i] = new CommandSlot(this, (ushort)i, runContinuationsAsynchronously);
            _free.Push(_slots[i]);
        }
    }

    public int Capacity => _slots.Length;

    /// <summary>Why the table was closed, if it was.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>The slot that owns <paramref name="commandId"/> while its command is on the wire, else null.</summary>
    public CommandSlot? Find(ushort commandId) =>
        commandId < _slots.Length && _slots[commandId].AwaitingResponse ? _slots[commandId] : null;

    /// <summary>Timestamp of the oldest command still waiting for its response, or null when none is.</summary>
    public long? OldestOutstanding()
    {
        long? oldest = null;
        foreach (var slot in _slots)
        {
            if (slot.AwaitingResponse && (oldest is null || slot.IssuedAt < oldest))
            {
                oldest = slot.IssuedAt;
            }
        }

        return oldest;
    }

    /// <summary>Rents and arms a slot; false when none is free. Throws once the table has failed.</summary>
    public bool TryRent(ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, out CommandSlot slot, ICommandSink? sink = null)
    {
        lock (_lock)
        {
            ThrowIfFailed();
            if (_waiters.Count == 0 && _free.TryPop(out slot!))
            {
                slot.Arm(dataOut, dataIn, sink);
                return true;
            }
        }

        slot = null!;
        return false;
    }

    /// <summary>Waits for a free slot (every slot busy): arms it for the caller.</summary>
    public async Task<CommandSlot> RentSlowAsync(ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, CancellationToken cancellationToken, ICommandSink? sink = null)
    {
        Waiter waiter;
        lock (_lock)
        {
            ThrowIfFailed();
            if (_waiters.Count == 0 && _free.TryPop(out var slot))
            {
                slot.Arm(dataOut, dataIn, sink);
                return slot;
            }

            waiter = new Waiter(dataOut, dataIn, sink);
            _waiters.Enqueue(waiter);
        }

        using (cancellationToken.UnsafeRegister(static w => ((Waiter)w!).TrySetCanceled(), waiter))
        {
            return await waiter.Task.ConfigureAwait(false);
        }
    }

    /// <summary>A slot whose command is finished and whose result was read.</summary>
    public void Return(CommandSlot slot)
    {
        lock (_lock)
        {
            while (_waiters.TryDequeue(out var waiter))
            {
                slot.Arm(waiter.DataOut, waiter.DataIn, waiter.Sink);
                if (waiter.TrySetResult(slot))
                {
                    return;
                }

                // That waiter was cancelled: the slot was armed for nothing; undo and try the next.
                slot.Disarm();
            }

            _free.Push(slot);
        }
    }

    /// <summary>Closes the table: every command still on the wire and every waiter fails with <paramref name="failure"/>.</summary>
    public void FailAll(Exception failure)
    {
        Waiter[] waiters;
        lock (_lock)
        {
            _failure ??= failure;
            waiters = [.. _waiters];
            _waiters.Clear();
        }

        foreach (var waiter in waiters)
        {
            waiter.TrySetException(failure);
        }

        foreach (var slot in _slots)
        {
            slot.Fail(failure);
        }
    }

    private void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            throw new NvmeTransportException($"the connection has failed: {failure.Message}", failure);
        }
    }

    private sealed class Waiter(ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, ICommandSink? sink) : TaskCompletionSource<CommandSlot>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public ICommandSink? Sink { get; } = sink;
        public ReadOnlyMemory<byte> DataOut { get; } = dataOut;
        public Memory<byte> DataIn { get; } = dataIn;
    }
}
