using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NovaStor.BlockEngine.Aio;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine.Tests;

/// <summary>
/// Sockets on a reactor (<see cref="IReactorStream"/>): receive, gather send with short sends
/// resumed in order, cross-thread posts, the before-submit hook, and memory volumes finishing
/// inline on the reactor. Loopback TCP only. Each stream test runs on the io_uring reactor and on
/// the native AIO reactor (epoll), which serve the same <see cref="IStreamReactor"/> contract.
/// </summary>
public sealed class ReactorStreamTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    public static TheoryData<string> Kinds => new() { "io_uring", "aio" };

    /// <summary>Whether <paramref name="condition"/> holds within <see cref="Limit"/>, looking every millisecond.</summary>
    private static async Task<bool> Eventually(Func<bool> condition)
    {
        var until = DateTime.UtcNow + Limit;
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                return false;
            }

            await Task.Delay(1);
        }

        return true;
    }

    /// <summary>A reactor of the kind, and what disposes it.</summary>
    private static (IStreamReactor Reactor, IDisposable Owner) Create(string kind)
    {
        if (kind == "aio")
        {
            var pool = new AioReactorPool();
            return (pool[0], pool);
        }

        ReactorPool reactors = ReactorTestSupport.CreatePool();
        return (reactors[0], reactors);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task BytesComeBackInOrderThroughShortSendsToASlowReader(string kind)
    {
        (IStreamReactor reactor, IDisposable owner) = Create(kind);
        using var _ = owner;
        using var pair = SocketPair.Connect();
        // A small send buffer on the reactor's side and a reader that naps: sendmsg sends short.
        pair.Server.SendBufferSize = 8 * 1024;
        var echo = new EchoStream(reactor, pair.Server, piecesPerEcho: 7);
        echo.Start();

        byte[] sent = new byte[1 << 20];
        new Random(7).NextBytes(sent);
        var writer = Task.Run(() => pair.Client.Send(sent));
        byte[] received = new byte[sent.Length];
        int at = 0;
        while (at < received.Length)
        {
            int n = await pair.Client.ReceiveAsync(received.AsMemory(at, Math.Min(4096, received.Length - at))).AsTask().WaitAsync(Limit);
            Assert.NotEqual(0, n);
            at += n;
            if (at % (128 * 1024) < 4096)
            {
                await Task.Delay(5); // let the reactor's side fill up
            }
        }

        await writer.WaitAsync(Limit);
        Assert.True(received.AsSpan().SequenceEqual(sent), "the echo differs from what was sent");
        Assert.True(echo.ShortSends > 0, "no send was short: the test did not exercise resuming");
        Assert.Empty(echo.ForeignThreads);
        pair.Client.Shutdown(SocketShutdown.Both);
        await echo.Closed.WaitAsync(Limit);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task AWaitAllReceiveArrivingInPiecesCompletesOnceWholeWhileAnotherStreamIsServed(string kind)
    {
        (IStreamReactor reactor, IDisposable owner) = Create(kind);
        using var _ = owner;
        using var bulk = SocketPair.Connect();
        using var chatty = SocketPair.Connect();
        const int Length = 128 * 1024;
        const int Piece = 16 * 1024;
        var whole = new WholeReceive(reactor, bulk.Server, Length);
        whole.Start();
        await whole.Armed.Task.WaitAsync(Limit);
        var ring = reactor as Reactor;
        if (ring is not null)
        {
            // The io_uring reactor sleeps instead of polling while its only receive out is long...
            Assert.Equal(1, ring.LongReceives);
            Assert.True(ring.SleepsThroughReceives);
        }

        var echo = new EchoStream(reactor, chatty.Server, piecesPerEcho: 1);
        echo.Start();
        if (ring is not null)
        {
            // ...and polls again once another stream waits for something short.
            Assert.True(await Eventually(() => !ring.SleepsThroughReceives), "the reactor still sleeps through receives with a short one out");
            Assert.Equal(1, ring.LongReceives);
        }

        byte[] sent = new byte[Length];
        new Random(11).NextBytes(sent);
        byte[] pong = new byte[1];
        for (int at = 0; at < Length; at += Piece)
        {
            Assert.False(whole.Done.Task.IsCompleted, $"the receive completed with {at} of {Length} bytes sent");
            Assert.Equal(Piece, bulk.Client.Send(sent, at, Piece, SocketFlags.None));
            // The other connection on the reactor is answered while the long receive waits.
            Assert.Equal(1, chatty.Client.Send([(byte)at]));
            Assert.Equal(1, await chatty.Client.ReceiveAsync(pong.AsMemory()).AsTask().WaitAsync(Limit));
            Assert.Equal((byte)at, pong[0]);
        }

        Assert.Equal(Length, await whole.Done.Task.WaitAsync(Limit));
        Assert.Equal(1, whole.Completions);
        Assert.True(whole.Received.SequenceEqual(sent), "the bytes received differ from those sent");
        if (ring is not null)
        {
            Assert.Equal(0, ring.LongReceives);
            Assert.False(ring.SleepsThroughReceives);
        }

        chatty.Client.Shutdown(SocketShutdown.Both);
        await echo.Closed.WaitAsync(Limit);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task MorePiecesThanOneSendmsgTakesGoOutInOrder(string kind)
    {
        (IStreamReactor reactor, IDisposable owner) = Create(kind);
        using var _ = owner;
        using var pair = SocketPair.Connect();
        // 3000 one-byte pieces per echo: more than IOV_MAX (1024), so one batch takes three sends.
        var echo = new EchoStream(reactor, pair.Server, piecesPerEcho: 3000);
        echo.Start();
        byte[] sent = new byte[3000];
        new Random(3).NextBytes(sent);
        pair.Client.Send(sent);
        byte[] received = new byte[sent.Length];
        int at = 0;
        while (at < received.Length)
        {
            at += await pair.Client.ReceiveAsync(received.AsMemory(at)).AsTask().WaitAsync(Limit);
        }

        Assert.True(received.AsSpan().SequenceEqual(sent), "the echo differs from what was sent");
        Assert.True(echo.MaxPiecesInABatch > GatherList.MaxPiecesPerSend, $"only {echo.MaxPiecesInABatch} pieces in a batch");
        pair.Client.Shutdown(SocketShutdown.Both);
        await echo.Closed.WaitAsync(Limit);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task PostsFromOtherThreadsArriveOnTheReactorAndBeforeSubmitRunsOncePerRequest(string kind)
    {
        (IStreamReactor reactor, IDisposable owner) = Create(kind);
        using var _ = owner;
        var stream = new RecordingStream(reactor);
        const int Messages = 2000;
        var posters = Enumerable.Range(0, 4).Select(p => Task.Run(() =>
        {
            for (int i = 0; i < Messages / 4; i++)
            {
                Assert.True(reactor.Post(stream, (ulong)((p * 1000) + i)));
            }
        })).ToArray();
        await Task.WhenAll(posters).WaitAsync(Limit);
        await stream.WaitForMessagesAsync(Messages).WaitAsync(Limit);

        Assert.Equal(Messages, stream.Messages.Count);
        Assert.Equal(Messages, stream.Messages.Distinct().Count());
        Assert.Empty(stream.ForeignThreads);
        // Each message asks for the hook; it runs at least once and never more often than asked.
        Assert.InRange(stream.BeforeSubmitCalls, 1, Messages);
        Assert.Equal(0, stream.HookStillRequested);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void StreamOperationsOffTheReactorThreadAreRefused(string kind)
    {
        (IStreamReactor reactor, IDisposable owner) = Create(kind);
        using var _ = owner;
        var stream = new RecordingStream(reactor);
        using var pieces = new GatherList();
        pieces.Add(1, 1);
        Assert.Throws<InvalidOperationException>(() => reactor.Receive(stream, 0, 1, 1));
        Assert.Throws<InvalidOperationException>(() => reactor.Send(stream, 0, pieces));
        Assert.Throws<InvalidOperationException>(() => reactor.RequestBeforeSubmit(stream));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PostsToAStoppedReactorAreRefused(string kind)
    {
        (IStreamReactor reactor, IDisposable owner) = Create(kind);
        var stream = new RecordingStream(reactor);
        owner.Dispose();
        Assert.False(reactor.Post(stream, 1));
    }

    [Fact]
    public async Task TheAioReactorLetsGoOfAStreamOnceItsEndWasDelivered()
    {
        using var pool = new AioReactorPool();
        using var pair = SocketPair.Connect();
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        WeakReference stream = StartReceiving(pool[0], pair.Server, ended);
        pair.Client.Shutdown(SocketShutdown.Both);
        await ended.Task.WaitAsync(Limit);

        // The end of the stream was its last operation: nothing on the reactor holds it any more.
        for (int i = 0; i < 20 && stream.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(10);
        }
        Assert.False(stream.IsAlive, "the AIO reactor still references a stream that ended");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference StartReceiving(AioReactor reactor, Socket socket, TaskCompletionSource ended)
    {
        var stream = new EndWatcher(reactor, (int)socket.SafeHandle.DangerousGetHandle(), ended);
        Assert.True(reactor.Post(stream, 0));
        return new WeakReference(stream);
    }

    [Fact]
    public async Task AMemoryVolumeRequestSubmittedOnItsReactorCompletesThereAfterTheSubmitterReturns()
    {
        using ReactorPool reactors = ReactorTestSupport.CreatePool();
        using var volume = new MemoryVolume(1 << 20, 4096);
        var lane = reactors.AcquireLane();
        using var buffer = lane.RentBuffer(4096);
        buffer.Span.Fill(0x5A);
        var probe = new InlineSubmitProbe(lane, volume, buffer);
        Assert.True(lane.Reactor!.Post(probe, 0));
        await probe.Done.Task.WaitAsync(Limit);

        Assert.True(probe.SubmitReturnedFirst, "the completion ran inside Submit, on the submitter's stack");
        Assert.Equal(lane.Reactor.ManagedThreadId, probe.CompletionThread);
        Assert.Equal(0, probe.Error);
        byte[] back = await volume.ReadBytesAsync(0, 4096);
        Assert.All(back, b => Assert.Equal(0x5A, b));
    }

    [Fact]
    public void GatherListConsumesWholeAndPartialPieces()
    {
        using var list = new GatherList(initialCapacity: 1);
        list.Add(1000, 10);
        list.Add(2000, 0); // skipped
        list.Add(3000, 20);
        list.Add(4000, 30);
        Assert.Equal(3, list.PieceCount);
        Assert.Equal(60, list.RemainingBytes);

        list.Consume(15); // the first piece and 5 bytes of the second
        Assert.Equal(2, list.PieceCount);
        Assert.Equal(45, list.RemainingBytes);
        list.Consume(15); // the rest of the second
        Assert.Equal(1, list.PieceCount);
        list.Consume(30);
        Assert.True(list.IsEmpty);
        Assert.Equal(0, list.PieceCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => list.Consume(1));
    }

    /// <summary>Two connected loopback sockets; both blocking (no async operation ever touches them).</summary>
    /// <summary>Receives until the end of the stream, then says so; holds 64 KiB so a leak would show.</summary>
    private sealed unsafe class EndWatcher(AioReactor reactor, int fd, TaskCompletionSource ended) : IReactorStream
    {
        private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);

        public void OnPosted(ulong message) => Receive();

        public void OnReceived(int result)
        {
            if (result <= 0)
            {
                ended.TrySetResult();
                return;
            }
            Receive();
        }

        public void OnSent(int result) => throw new InvalidOperationException("no send was started");

        public void BeforeSubmit()
        {
        }

        private void Receive()
        {
            fixed (byte* at = _buffer)
            {
                Assert.True(reactor.Receive(this, fd, (nint)at, _buffer.Length));
            }
        }
    }

    private sealed class SocketPair : IDisposable
    {
        private SocketPair(Socket client, Socket server)
        {
            Client = client;
            Server = server;
        }

        public Socket Client { get; }

        public Socket Server { get; }

        public static SocketPair Connect()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            client.Connect(listener.LocalEndPoint!);
            return new SocketPair(client, listener.Accept());
        }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }

    /// <summary>
    /// Echoes what it receives, each receive sent back as <c>piecesPerEcho</c> pieces of its own
    /// buffer; one send in flight, the next batch waits (as the target's queues do).
    /// </summary>
    private sealed unsafe class EchoStream : IReactorStream
    {
        private readonly IStreamReactor _reactor;
        private readonly int _fd;
        private readonly int _piecesPerEcho;
        private readonly byte* _buffer = (byte*)NativeMemory.Alloc(64 * 1024);
        private readonly GatherList _pieces = new();
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EchoStream(IStreamReactor reactor, Socket socket, int piecesPerEcho)
        {
            _reactor = reactor;
            _fd = (int)socket.SafeHandle.DangerousGetHandle();
            _piecesPerEcho = piecesPerEcho;
        }

        public int ShortSends { get; private set; }

        public int MaxPiecesInABatch { get; private set; }

        public List<int> ForeignThreads { get; } = [];

        public Task Closed => _closed.Task;

        public void Start() => Assert.True(_reactor.Post(this, 0));

        public void OnPosted(ulong message) => Receive();

        public void OnReceived(int result)
        {
            Check();
            if (result <= 0)
            {
                Close();
                return;
            }

            // Split what arrived into pieces (the last takes the remainder) and send them as one list.
            int piece = Math.Max(1, result / _piecesPerEcho);
            for (int at = 0; at < result; at += piece)
            {
                _pieces.Add((nint)(_buffer + at), Math.Min(piece, result - at));
            }

            MaxPiecesInABatch = Math.Max(MaxPiecesInABatch, _pieces.PieceCount);
            Assert.True(_reactor.Send(this, _fd, _pieces));
        }

        public void OnSent(int result)
        {
            Check();
            if (result < 0)
            {
                Close();
                return;
            }

            long before = _pieces.RemainingBytes;
            _pieces.Consume(result);
            if (!_pieces.IsEmpty)
            {
                ShortSends += result < before ? 1 : 0;
                Assert.True(_reactor.Send(this, _fd, _pieces));
                return;
            }

            Receive(); // the buffer is free again
        }

        public void BeforeSubmit() => Check();

        private void Receive() => Assert.True(_reactor.Receive(this, _fd, (nint)_buffer, 64 * 1024));

        private void Check()
        {
            if (!_reactor.IsCurrentThread)
            {
                ForeignThreads.Add(Environment.CurrentManagedThreadId);
            }
        }

        private void Close()
        {
            _pieces.Dispose();
            NativeMemory.Free(_buffer);
            _closed.TrySetResult();
        }
    }

    /// <summary>One MSG_WAITALL receive of a whole buffer: says when it is armed, how often it completed and with what.</summary>
    private sealed class WholeReceive(IStreamReactor reactor, Socket socket, int length) : IReactorStream
    {
        private readonly byte[] _buffer = GC.AllocateArray<byte>(length, pinned: true);
        private readonly int _fd = (int)socket.SafeHandle.DangerousGetHandle();

        public TaskCompletionSource Armed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<int> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Completions { get; private set; }

        public ReadOnlySpan<byte> Received => _buffer;

        public void Start() => Assert.True(reactor.Post(this, 0));

        public void OnPosted(ulong message)
        {
            Assert.True(reactor.Receive(this, _fd, Marshal.UnsafeAddrOfPinnedArrayElement(_buffer, 0), length, waitAll: true));
            Armed.TrySetResult();
        }

        public void OnReceived(int result)
        {
            Completions++;
            Done.TrySetResult(result);
        }

        public void OnSent(int result) => throw new InvalidOperationException("no send was started");

        public void BeforeSubmit()
        {
        }
    }

    /// <summary>Records posted messages; asks for the before-submit hook on each.</summary>
    private sealed class RecordingStream(IStreamReactor reactor) : IReactorStream
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _requested;
        private int _expected = int.MaxValue;

        public List<ulong> Messages { get; } = [];

        public List<int> ForeignThreads { get; } = [];

        public int BeforeSubmitCalls { get; private set; }

        /// <summary>1 while a hook was asked for and has not run yet.</summary>
        public int HookStillRequested => _requested ? 1 : 0;

        public Task WaitForMessagesAsync(int count)
        {
            Interlocked.Exchange(ref _expected, count);
            if (Volatile.Read(ref _expected) <= CountSafely())
            {
                _all.TrySetResult();
            }

            return _all.Task;
        }

        public void OnPosted(ulong message)
        {
            if (!reactor.IsCurrentThread)
            {
                ForeignThreads.Add(Environment.CurrentManagedThreadId);
            }

            lock (Messages)
            {
                Messages.Add(message);
            }

            if (!_requested)
            {
                _requested = true;
                reactor.RequestBeforeSubmit(this);
            }
        }

        public void BeforeSubmit()
        {
            Assert.True(_requested, "the hook ran without being asked for");
            _requested = false;
            BeforeSubmitCalls++;
            if (CountSafely() >= Volatile.Read(ref _expected))
            {
                _all.TrySetResult();
            }
        }

        public void OnReceived(int result) => throw new InvalidOperationException("no receive was started");

        public void OnSent(int result) => throw new InvalidOperationException("no send was started");

        private int CountSafely()
        {
            lock (Messages)
            {
                return Messages.Count;
            }
        }
    }

    /// <summary>On the reactor: submits a memory write on the reactor's lane and notes the order of events.</summary>
    private sealed class InlineSubmitProbe(EngineLane lane, MemoryVolume volume, AlignedBuffer buffer) : IReactorStream, IBlockCompletion
    {
        private bool _submitting;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool SubmitReturnedFirst { get; private set; }

        public int CompletionThread { get; private set; }

        public int Error { get; private set; } = -1;

        public void OnPosted(ulong message)
        {
            _submitting = true;
            volume.Submit(new BlockRequest(BlockOperation.Write, 0, 4096, buffer.Address, Lane: lane), this, 7);
            _submitting = false;
        }

        public void OnBlockCompleted(ulong userData, int error)
        {
            SubmitReturnedFirst = !_submitting;
            CompletionThread = Environment.CurrentManagedThreadId;
            Error = userData == 7 ? error : -2;
            Done.TrySetResult();
        }

        public void OnReceived(int result) => throw new InvalidOperationException("no receive was started");

        public void OnSent(int result) => throw new InvalidOperationException("no send was started");

        public void BeforeSubmit()
        {
        }
    }
}
