using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using NovaStor.Initiator.Queue;
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
/// Threads: submitters build PDUs under the sender's lock; one receive loop frames PDUs,
/// copies C2H data into the submitters' buffers, answers R2Ts (queuing H2CData under the same
/// lock) and completes slots; one writer loop moves queued PDUs to the socket. In steady state
/// <see cref="IssueAsync"/> allocates nothing.
/// </remarks>
public sealed partial class HostQueue : IAsyncDisposable
{
    /// <summary>Admin queue and Fabrics commands may carry this much in-capsule whatever IOCCSZ says.</summary>
    public const int FabricsInCapsuleLimit = 8192;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly PduSender _sender;
    private readonly CommandTable _commands;
    private readonly HostQueueOptions _options;
    private readonly byte[] _header = new byte[PduFramer.MaxHeaderLength];
    private Task _receiver = Task.CompletedTask;
    private Task _writer = Task.CompletedTask;
    private PduFramingRules _rules = PduFramingRules.BeforeInitialization(PduReceiver.Host);
    private Exception? _failure;

    private HostQueue(Socket socket, HostQueueOptions options)
    {
        _socket = socket;
        _options = options;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 256 * 1024, minimumReadSize: 16 * 1024));
        _sender = new PduSender(_stream);
        _commands = new CommandTable(options.QueueDepth);
    }

    /// <summary>MAXH2CDATA the controller announced in ICResp.</summary>
    public uint MaxH2CData { get; private set; }

    /// <summary>Command table entries: the most commands outstanding at once.</summary>
    public int Depth => _commands.Capacity;

    public HostQueueOptions Options => _options;

    /// <summary>How long the oldest outstanding command has waited; zero when none is outstanding.</summary>
    public TimeSpan OldestCommandAge =>
        _commands.OldestOutstanding() is { } issued ? System.Diagnostics.Stopwatch.GetElapsedTime(issued) : TimeSpan.Zero;

    /// <summary>Set when the connection failed (termination request, closed socket).</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>Connects and initializes the connection (ICReq/ICResp).</summary>
    public static async Task<HostQueue> ConnectAsync(EndPoint endPoint, HostQueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new HostQueueOptions();
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        try
        {
            await socket.ConnectAsync(endPoint, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var queue = new HostQueue(socket, options);
        try
        {
            await queue.InitializeAsync(timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            await queue.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        queue._writer = Task.Run(queue.WriteLoopAsync, CancellationToken.None);
        queue._receiver = Task.Run(queue.ReceiveLoopAsync, CancellationToken.None);
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

        lock (_sender.Lock)
        {
            if (_sender.IsOpen)
            {
                WriteCapsule(sqe, inCapsule ? dataOut.Span : default);
                _sender.Commit();
                return;
            }
        }

        // Closed between renting and sending: the table is failing or about to; make sure.
        _commands.FailAll(Failure ?? new NvmeTransportException("the queue is closed"));
    }

    /// <summary>CapsuleCmd: header (+ digest), then in-capsule data (+ digest); under the sender lock.</summary>
    private void WriteCapsule(in SubmissionQueueEntry command, ReadOnlySpan<byte> inCapsule)
    {
        var writer = _sender.Writer;
        var span = writer.GetSpan(PduWriter.MaxHeaderWithDigest);
        int header = PduWriter.WriteCapsuleCommandHeader(span, command, inCapsule.Length, _options.HeaderDigest, _options.DataDigest);
        writer.Advance(header);
        if (!inCapsule.IsEmpty)
        {
            WriteData(writer, inCapsule);
        }
    }

    /// <summary>Data bytes, then their digest when negotiated; under the sender lock.</summary>
    private void WriteData(IBufferWriter<byte> writer, ReadOnlySpan<byte> data)
    {
        writer.Write(data);
        if (_options.DataDigest)
        {
            PduWriter.WriteDataDigest(writer.GetSpan(PduSizes.Digest), data);
            writer.Advance(PduSizes.Digest);
        }
    }

    /// <summary>Sends bytes as they are: for tests of how a controller handles malformed PDUs.</summary>
    public Task SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        lock (_sender.Lock)
        {
            if (!_sender.IsOpen)
            {
                return Task.FromException(new NvmeTransportException("the queue is closed", Failure ?? new ObjectDisposedException(nameof(HostQueue))));
            }

            _sender.Writer.Write(bytes.Span);
            _sender.Commit();
        }

        return Task.CompletedTask;
    }

    /// <summary>Completes when the connection has ended; returns why.</summary>
    public async Task<Exception?> WaitForCloseAsync()
    {
        await _receiver.ConfigureAwait(false);
        return Failure;
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await _sender.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Fail(new NvmeTransportException($"sending to the controller failed: {ex.Message}", FatalErrorStatus.None, 0, ex));
            Abort();
        }
    }

    /// <summary>First failure wins; every command still waiting fails with it.</summary>
    private void Fail(Exception failure)
    {
        Interlocked.CompareExchange(ref _failure, failure, null);
        _sender.Close();
        _commands.FailAll(Failure!);
    }

    private void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Interlocked.CompareExchange(ref _failure, new NvmeTransportException("the host closed the queue"), null);
        _sender.Close();
        try
        {
            // Let queued PDUs (a final Disconnect, a shutdown) reach the wire before closing.
            await _writer.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        Abort();
        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _receiver.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
        }

        _commands.FailAll(Failure!);
        await _input.CompleteAsync().ConfigureAwait(false);
    }
}
