using System.Net;
using NovaStor.Initiator.Queue;
using NovaStor.Initiator.Transport;
using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>
/// One NVMe/TCP queue from the host side: a TCP connection, ICReq/ICResp, then up to
/// <see cref="HostQueueOptions.QueueDepth"/> commands outstanding, each in a fixed slot whose
/// index is the CID. Writes go in-capsule up to the limit, otherwise by R2T/H2CData; reads
/// arrive by C2HData. A transport error fails every pending command with
/// <see cref="NvmeTransportException"/>.
/// </summary>
/// <remarks>
/// Threads (see README.md): on Linux one thread of the queue's own receives, frames PDUs,
/// copies C2H data into the submitters' buffers, answers R2Ts and completes slots, and
/// submitters send their capsules themselves; the portable path uses a receive loop and a
/// writer loop on the thread pool instead. In steady state <see cref="IssueAsync"/> allocates
/// nothing.
/// </remarks>
public sealed partial class HostQueue : IAsyncDisposable, IPduReceiver
{
    /// <summary>Admin queue and Fabrics commands may carry this much in-capsule whatever IOCCSZ says.</summary>
    public const int FabricsInCapsuleLimit = 8192;

    private readonly QueueTransport _transport;
    private readonly CommandTable _commands;
    private readonly HostQueueOptions _options;
    private readonly byte[] _header = new byte[PduFramer.MaxHeaderLength];
    private readonly TaskCompletionSource _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly DigestOptions _digests;
    private PduFramingRules _rules = PduFramingRules.BeforeInitialization(PduReceiver.Host);
    private Exception? _failure;
    private int _closed;

    private HostQueue(EndPoint endPoint, HostQueueOptions options)
    {
        _options = options;
        _digests = (options.HeaderDigest ? DigestOptions.Header : DigestOptions.None) | (options.DataDigest ? DigestOptions.Data : DigestOptions.None);
        _commands = new CommandTable(options.QueueDepth, runContinuationsAsynchronously: !options.InlineCompletions);
        _transport = QueueTransport.Create(options, this, endPoint.AddressFamily);
    }

    /// <summary>MAXH2CDATA the controller announced in ICResp.</summary>
    public uint MaxH2CData { get; private set; }

    /// <summary>Command table entries: the most commands outstanding at once.</summary>
    public int Depth => _commands.Capacity;

    /// <summary>
    /// True when this queue's Connect asked to disable SQ flow control (<see cref="HostQueueOptions.DisableSqFlowControl"/>)
    /// and the controller agreed (SQHD FFFFh in its Connect completion). This queue reads no SQHD
    /// either way, and takes a read's SUCCESS-flagged C2HData as its completion either way.
    /// </summary>
    public bool SqFlowControlDisabled { get; internal set; }

    public HostQueueOptions Options => _options;

    /// <summary>How long the oldest outstanding command has waited; zero when none is outstanding.</summary>
    public TimeSpan OldestCommandAge =>
        _commands.OldestOutstanding() is { } issued ? System.Diagnostics.Stopwatch.GetElapsedTime(issued) : TimeSpan.Zero;

    /// <summary>The socket path this queue runs on (tests and diagnostics).</summary>
    internal QueueTransport Transport => _transport;

    /// <summary>Set when the connection failed (termination request, closed socket).</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Connects and initializes the connection (ICReq/ICResp).</summary>
    public static async Task<HostQueue> ConnectAsync(EndPoint endPoint, HostQueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new HostQueueOptions();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        var queue = new HostQueue(endPoint, options);
        try
        {
            await queue._transport.ConnectAsync(endPoint, options.ConnectTimeout, timeout.Token).ConfigureAwait(false);
            await queue.InitializeAsync(timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            await queue.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return queue;
    }

    /// <summary>
    /// Sends one command; the result completes when the controller answers. The CID and SGL are
    /// filled in here; <paramref name="dataOut"/> is sent (in-capsule or by R2T) and
    /// <paramref name="dataIn"/> receives C2H data. Both must stay untouched until completion.
    /// Allocates nothing unless every slot is busy (then it waits for one).
    /// </summary>
    public ValueTask<CompletionQueueEntry> IssueAsync(in SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut = default, Memory<byte> dataIn = default, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<CompletionQueueEntry>(cancellationToken);
        }

        CommandSlot slot;
        try
        {
            if (!_commands.TryRent(dataOut, dataIn, out slot))
            {
                return IssueWhenFreeAsync(command, dataOut, dataIn, cancellationToken);
            }
        }
        catch (NvmeTransportException ex)
        {
            return ValueTask.FromException<CompletionQueueEntry>(ex);
        }

        return Send(slot, command, cancellationToken);
    }

    /// <summary>As <see cref="IssueAsync"/>, as a <see cref="Task"/> (allocates; for tools and tests).</summary>
    public Task<CompletionQueueEntry> SubmitAsync(SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut = default, Memory<byte> dataIn = default, CancellationToken cancellationToken = default) =>
        IssueAsync(command, dataOut, dataIn, cancellationToken).AsTask();

    /// <summary>
    /// Sends one command whose outcome goes to <paramref name="sink"/> (inline, on the receive
    /// loop) rather than to an awaiter: the library's own zero-allocation path. Never throws; a
    /// failed connection is reported to the sink.
    /// </summary>
    internal void Issue(in SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, ICommandSink sink)
    {
        CommandSlot slot;
        try
        {
            if (!_commands.TryRent(dataOut, dataIn, out slot, sink))
            {
                _ = IssueWhenFreeAsync(command, dataOut, dataIn, sink);
                return;
            }
        }
        catch (NvmeTransportException ex)
        {
            sink.OnFailure(ex);
            return;
        }

        Write(slot, command);
    }

    private async Task IssueWhenFreeAsync(SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, ICommandSink sink)
    {
        CommandSlot slot;
        try
        {
            slot = await _commands.RentSlowAsync(dataOut, dataIn, CancellationToken.None, sink).ConfigureAwait(false);
        }
        catch (NvmeTransportException ex)
        {
            sink.OnFailure(ex);
            return;
        }

        Write(slot, command);
    }

    private async ValueTask<CompletionQueueEntry> IssueWhenFreeAsync(SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut, Memory<byte> dataIn, CancellationToken cancellationToken)
    {
        var slot = await _commands.RentSlowAsync(dataOut, dataIn, cancellationToken).ConfigureAwait(false);
        return await Send(slot, command, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask<CompletionQueueEntry> Send(CommandSlot slot, in SubmissionQueueEntry command, CancellationToken cancellationToken)
    {
        // Token first: a response can arrive as soon as the capsule is queued.
        var task = new ValueTask<CompletionQueueEntry>(slot, slot.Version);
        slot.WatchCancellation(cancellationToken);
        Write(slot, command);
        return task;
    }

    /// <summary>Queues the capsule of an armed slot; a closed sender fails the table (and so the slot).</summary>
    private void Write(CommandSlot slot, in SubmissionQueueEntry command)
    {
        var dataOut = slot.DataOut;
        int length = Math.Max(dataOut.Length, slot.DataIn.Length);
        int limit = command.Opcode == AdminOpcode.Fabrics ? Math.Max(FabricsInCapsuleLimit, _options.InCapsuleDataLimit) : _options.InCapsuleDataLimit;
        bool inCapsule = dataOut.Length > 0 && dataOut.Length <= limit;

        var sqe = command;
        sqe.CommandId = slot.CommandId;
        sqe.Flags = (byte)((sqe.Flags & 0x3F) | SubmissionQueueEntry.SglFlags);
        sqe.Sgl = new SglDescriptor(0, (uint)length, inCapsule ? SglDescriptor.DataBlockOffset : SglDescriptor.TransportDataBlock);

        // CapsuleCmd: header (+ digest), then in-capsule data (+ digest) from the caller's memory.
        Span<byte> header = stackalloc byte[PduWriter.MaxHeaderWithDigest];
        var inCapsuleData = inCapsule ? dataOut : default;
        int headerLength = PduWriter.WriteCapsuleCommandHeader(header, sqe, inCapsuleData.Length, _options.HeaderDigest, _options.DataDigest);
        if (!_transport.Send(header[..headerLength], inCapsuleData, _options.DataDigest))
        {
            // Closed between renting and sending: the table is failing or about to; make sure.
            _commands.FailAll(Failure ?? new NvmeTransportException("the queue is closed"));
        }
    }

    /// <summary>Sends bytes as they are: for tests of how a controller handles malformed PDUs.</summary>
    public Task SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        // A copy: the caller may reuse its buffer once this returns, the socket may not have taken it all.
        return _transport.Send(default, bytes.ToArray(), dataDigest: false)
            ? Task.CompletedTask
            : Task.FromException(new NvmeTransportException("the queue is closed", Failure ?? new ObjectDisposedException(nameof(HostQueue))));
    }

    /// <summary>Completes when the connection has ended; returns why.</summary>
    public async Task<Exception?> WaitForCloseAsync()
    {
        await _transport.Closed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return Failure;
    }

    /// <summary>First failure wins; every command still waiting fails with it.</summary>
    private void Fail(Exception failure)
    {
        Interlocked.CompareExchange(ref _failure, failure, null);
        _initialized.TrySetException(Failure!);
        _commands.FailAll(Failure!);
    }

    void IPduReceiver.OnConnectionFailed(Exception failure) => Fail(failure);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            await _transport.Closed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return;
        }

        Interlocked.CompareExchange(ref _failure, new NvmeTransportException("the host closed the queue"), null);
        await _transport.DisposeAsync().ConfigureAwait(false);
        _initialized.TrySetException(Failure!);
        _commands.FailAll(Failure!);
    }
}
