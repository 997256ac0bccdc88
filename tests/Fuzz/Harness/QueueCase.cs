using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Protocol;
using NovaStor.Protocol.Authentication;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Authentication;
using NovaStor.Target.Transport;

namespace NovaStor.Fuzz;

/// <summary>
/// The <c>queue</c> fuzz target: whole target queues (<see cref="PipeQueue"/>, the transport that
/// runs over Kestrel's connection pipes) fed a host's bytes over in-memory pipes, with a subsystem
/// of two memory namespaces (512-byte and 4 KiB blocks) that admits any host.
/// </summary>
/// <remarks>
/// <para><b>Input.</b> The host's byte stream: ICReq, CapsuleCmds, H2CData, H2CTermReq as a host
/// sends them. <see cref="ConnectionSeparator"/> starts the stream of another connection (an I/O
/// queue needs a controller from an admin queue first), up to <see cref="MaxConnections"/>.
/// Connections are opened in order; each gets its bytes in one write, and the next is opened once
/// the target has answered all it can. Then every host closes its side, and the case is over when
/// every queue has ended.</para>
/// <para><b>Findings</b> (thrown as <see cref="FuzzFinding"/>): anything thrown out of the target;
/// an error the target logged (a queue logs a bug of its own and closes that connection only, so
/// the harness reads the log to see it); output a host's framer refuses (<see cref="HostView"/>); a
/// controller left in a subsystem after every connection closed; with <c>probe</c>, a healthy host
/// that then fails to connect, write and read back what it wrote. A case that does not end within
/// <see cref="Limit"/> (a queue that never closes, a command never answered) throws
/// <see cref="CaseHungException"/>.</para>
/// <para><b>One thread, same result every time.</b> A case runs on one thread, which is also the
/// "socket thread": the pipes resume the target's reads inline, block requests are submitted one at
/// a time in the order the target made them and their completions delivered on that thread (as a
/// reactor would), the connection aborts the target asks for run there too, when the harness gets to
/// them, and the harness waits for work the target sends to the thread pool (reservation commands)
/// before it goes on. No timer fires: the connect deadline and
/// keep-alive expiry are the network test's. So the same input takes the same path through the
/// target, which coverage-guided fuzzing needs; races between threads are the network test's job.
/// Each case gets a new registry and subsystems (controller ids start at 1, no state carried
/// over); only the memory volumes' bytes are shared.</para>
/// </remarks>
internal sealed class QueueCase : IDisposable
{
    public const string SubsystemNqn = "nqn.2026-12.io.novastor:fuzz";

    /// <summary>The probe's own subsystem, on the same volumes: what a case leaves in its namespaces (reservations) stays out of its way.</summary>
    public const string ProbeNqn = "nqn.2026-12.io.novastor:probe";

    /// <summary>A subsystem whose seed host must authenticate (DH-HMAC-CHAP, SHA-256, null group): the authentication parsers' way in.</summary>
    public const string AuthenticatedNqn = "nqn.2026-12.io.novastor:fuzz-auth";

    public const int MaxConnections = 4;

    /// <summary>Each volume's size: 1,024 blocks of 512 bytes (namespace 1), 128 of 4 KiB (namespace 2); zeroed before every case.</summary>
    public const long VolumeBytes = 512 * 1024;

    /// <summary>The blocks of namespace 1 the probe writes and reads (40 of them).</summary>
    public const ulong ProbeFirstBlock = 900;

    /// <summary>How long a case may take before it counts as a hang.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(2);

    private static readonly TargetLimits Limits = new();
    private static readonly byte[] Separator = "--next-connection--"u8.ToArray();

    private readonly FindingLogger _logger = new();
    private readonly MemoryVolume _smallMemory;
    private readonly MemoryVolume _largeMemory;
    private readonly SteppedVolume _small;
    private readonly SteppedVolume _large;
    private int _probes;
    private List<OpenQueue>? _settling;

    public QueueCase()
    {
        _smallMemory = new MemoryVolume(VolumeBytes, 512, _logger);
        _largeMemory = new MemoryVolume(VolumeBytes, 4096, _logger);
        _small = new SteppedVolume(_smallMemory);
        _large = new SteppedVolume(_largeMemory);
    }

    /// <summary>Starts another connection's stream within a fuzz input.</summary>
    public static ReadOnlySpan<byte> ConnectionSeparator => Separator;

    /// <summary>Runs one input (bounded by <see cref="Limit"/>); with <paramref name="probe"/>, then checks a healthy host.</summary>
    public HostView[] Run(ReadOnlySpan<byte> input, bool probe = false)
    {
        var bytes = input.ToArray();
        // The bound counts from the case's start, not from when a busy thread pool got to it. No
        // synchronization context on the case's thread: with one, .NET would run every
        // ConfigureAwait(false) continuation of the target on the thread pool instead of inline.
        using var started = new ManualResetEventSlim();
        var run = Task.Run(() =>
        {
            started.Set();
            return RunCase(new Deferred(), bytes, probe);
        });

        try
        {
            started.Wait();
            return run.WaitAsync(Limit).GetAwaiter().GetResult();
        }
        catch (TimeoutException) when (!run.IsCompleted)
        {
            throw new CaseHungException(Limit, Volatile.Read(ref _settling) is { } open ? Describe(open) : "between steps");
        }
    }

    /// <summary>Where a hung case stands: for the report.</summary>
    private string Describe(List<OpenQueue> open) =>
        $"volumes {(_small.Idle && _large.Idle ? "idle" : "busy")}; " + string.Join("; ", open.Select(q =>
            $"{q.Connection.ConnectionId}: {(q.Run.IsCompleted ? "ended" : q.Connection.TargetWaits ? "waits for the host" : "working or closing")}{(q.Connection.Aborted ? ", aborted" : "")}"));

    public void Dispose()
    {
        _smallMemory.Dispose();
        _largeMemory.Dispose();
    }

    /// <summary>The input cut into connection streams: at most <see cref="MaxConnections"/>, the last takes the rest.</summary>
    public static List<byte[]> SplitConnections(ReadOnlySpan<byte> input)
    {
        var parts = new List<byte[]>();
        while (parts.Count < MaxConnections - 1)
        {
            int at = input.IndexOf(Separator);
            if (at < 0)
            {
                break;
            }

            parts.Add(input[..at].ToArray());
            input = input[(at + Separator.Length)..];
        }

        parts.Add(input.ToArray());
        return parts;
    }

    private HostView[] RunCase(Deferred deferred, byte[] input, bool probe)
    {
        // What earlier cases wrote would change what this one reads and compares.
        _small.Zero();
        _large.Zero();
        var subsystems = new[] { NewSubsystem(SubsystemNqn), NewSubsystem(ProbeNqn), NewSubsystem(AuthenticatedNqn, authenticated: true) };
        var registry = new SubsystemRegistry(subsystems);
        var raw = RunConnections(deferred, registry, SplitConnections(input));
        var views = raw.Select(HostView.Parse).ToArray();
        _logger.ThrowIfErrors();

        foreach (var served in subsystems.Append(registry.Discovery))
        {
            if (served.ControllerIds() is { Length: > 0 } left)
            {
                throw new FuzzFinding($"controllers {string.Join(", ", left)} of {served.Nqn} still exist after every connection closed");
            }
        }

        if (probe)
        {
            Probe(deferred, registry);
        }

        return views;
    }

    /// <summary>
    /// Opens a queue per stream, in order; feeds each its stream and lets the target answer all it
    /// can before the next opens; then every host closes its side. Returns what the target sent on each.
    /// </summary>
    private byte[][] RunConnections(Deferred deferred, SubsystemRegistry registry, IReadOnlyList<byte[]> streams)
    {
        var open = new List<OpenQueue>(streams.Count);
        try
        {
            for (int i = 0; i < streams.Count; i++)
            {
                var queue = Open(deferred, registry, $"fuzz-{i}");
                open.Add(queue);
                queue.Connection.Send(streams[i]);
                Settle(deferred, open, untilClosed: false);
            }
        }
        finally
        {
            foreach (var queue in open)
            {
                queue.Connection.CompleteInput();
            }

            Settle(deferred, open, untilClosed: true);
        }

        // A queue that failed inside logged it (a finding, from the log); one whose run threw is one here.
        Task.WhenAll(open.Select(o => o.Run)).GetAwaiter().GetResult();
        return [.. open.Select(o => o.Connection.TakeOutput())];
    }

    private OpenQueue Open(Deferred deferred, SubsystemRegistry registry, string name)
    {
        var connection = new InMemoryConnection(name, deferred.Add);
        var queue = new PipeQueue(connection, registry, Limits, StoppedTimers.Instance, _logger);
        return new OpenQueue(connection, SlotsOf(queue), queue.RunAsync());
    }

    /// <summary>
    /// The queue's command slots (a protected property of the transport, then a private field of
    /// the table), read by reflection on the fields so that the wait in <see cref="Settle"/> runs
    /// no instrumented code and the target needs no hook for its fuzzer. A rename fails every case
    /// at once, loudly.
    /// </summary>
    private static NvmeRequest?[] SlotsOf(NvmeTcpQueue queue) =>
        (NvmeRequest?[])SlotsField.GetValue(RequestsField.GetValue(queue))!;

    private static readonly FieldInfo RequestsField = typeof(NvmeTcpQueue).GetField("<Requests>k__BackingField", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new InvalidOperationException("NvmeTcpQueue.Requests is no longer an auto-property: update QueueCase.SlotsOf");

    private static readonly FieldInfo SlotsField = typeof(RequestTable).GetField("_slots", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new InvalidOperationException("RequestTable._slots is gone: update QueueCase.SlotsOf");

    /// <summary>
    /// Every command the queue holds waits for its host (H2CData after an R2T) or for an event (a
    /// parked Asynchronous Event Request): nothing of it is running. Fields only, no calls into the
    /// target. A command executing with no block request left is work on the thread pool (a
    /// reservation command), or one never answered, which the case's bound reports as a hang.
    /// </summary>
    private static bool HoldsOnlyWaitingCommands(NvmeRequest?[] slots)
    {
        foreach (var request in slots)
        {
            if (request is null || request.State is RequestState.Free or RequestState.AwaitingData)
            {
                continue;
            }

            if (request.State != RequestState.Executing || request.Command.Opcode != AdminOpcode.AsyncEventRequest)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Runs what the target left for later (continuations, aborts) and block requests with their
    /// completions, until there is nothing left and every queue either waits for its host or has
    /// ended; with <paramref name="untilClosed"/>, until every queue has ended.
    /// </summary>
    private void Settle(Deferred deferred, List<OpenQueue> open, bool untilClosed)
    {
        Volatile.Write(ref _settling, open);
        var spin = default(SpinWait);
        while (true)
        {
            if (deferred.Run() | _small.Pump() | _large.Pump())
            {
                spin = default;
                continue;
            }

            if (_small.Idle && _large.Idle
                && open.TrueForAll(q => q.Run.IsCompleted || (!untilClosed && q.Connection.TargetWaits && HoldsOnlyWaitingCommands(q.Slots))))
            {
                Volatile.Write(ref _settling, null);
                return;
            }

            // A block request running on the thread pool, a queue closing on a thread-pool thread (it
            // waited for its block requests), or one that will not end: the case's bound decides.
            spin.SpinOnce();
        }
    }

    /// <summary>
    /// A healthy host on the probe subsystem: admin queue, enable, an I/O queue writing in-capsule
    /// and by R2T, and reading it back. Anything short of that is a finding.
    /// </summary>
    private void Probe(Deferred deferred, SubsystemRegistry registry)
    {
        var admin = SeedStreams.AdminEnable(SeedStreams.Host, ProbeNqn);
        var adminQueue = Open(deferred, registry, "probe-admin");
        HostView ioView;
        HostStream io;
        (ushort CommandId, byte[] Data)[] reads;
        try
        {
            adminQueue.Connection.Send(admin.ToArray());
            Settle(deferred, [adminQueue], untilClosed: false);
            if (adminQueue.Run.IsCompleted)
            {
                throw new FuzzFinding("probe: the target closed a healthy admin queue");
            }

            var connected = HostView.Parse(adminQueue.Connection.PeekOutput()).CompletionOf(0);
            if (connected is not { Status.IsSuccess: true })
            {
                throw new FuzzFinding($"probe: a healthy admin queue's Connect failed: {connected?.Status.ToString() ?? "no response"}");
            }

            (io, reads) = SeedStreams.VerifiedIo(SeedStreams.Host, ProbeNqn, (ushort)connected.Value.Dw0, ProbeFirstBlock, ++_probes);
            ioView = HostView.Parse(RunConnections(deferred, registry, [io.ToArray()])[0]);
        }
        finally
        {
            adminQueue.Connection.CompleteInput();
            Settle(deferred, [adminQueue], untilClosed: true);
        }

        if (HostView.Parse(adminQueue.Connection.TakeOutput()).Mismatch(admin) is { } adminProblem)
        {
            throw new FuzzFinding($"probe: a healthy admin queue failed: {adminProblem}");
        }

        if (ioView.Mismatch(io) is { } problem)
        {
            throw new FuzzFinding($"probe: a healthy I/O queue failed: {problem}");
        }

        foreach (var (commandId, expected) in reads)
        {
            if (!ioView.DataOf(commandId).AsSpan().SequenceEqual(expected))
            {
                throw new FuzzFinding($"probe: read {commandId} did not return the bytes written");
            }
        }

        _logger.ThrowIfErrors();
    }

    private Subsystem NewSubsystem(string nqn, bool authenticated = false) => new(nqn, allowAnyHost: !authenticated, [],
    [
        new Namespace(1, "fuzz-512", _small, Identity.NamespaceGuid(nqn, "fuzz-512"), Identity.NamespaceUuid(nqn, "fuzz-512")),
        new Namespace(2, "fuzz-4096", _large, Identity.NamespaceGuid(nqn, "fuzz-4096"), Identity.NamespaceUuid(nqn, "fuzz-4096")),
    ],
    credentials: authenticated
        ? new Dictionary<string, HostCredentials>
        {
            [SeedStreams.Host.HostNqn] = new(DhchapSecret.Parse(SeedStreams.AuthenticationSecret), null, DhchapHash.Sha256, DhchapGroup.Null),
        }
        : null);

    /// <summary>One connection's queue while a case runs.</summary>
    private sealed record OpenQueue(InMemoryConnection Connection, NvmeRequest?[] Slots, Task Run);

    /// <summary>What the target asked to happen later (a connection's abort): run by the case's thread when it gets to it.</summary>
    private sealed class Deferred
    {
        private readonly ConcurrentQueue<Action> _actions = new();

        public void Add(Action action) => _actions.Enqueue(action);

        /// <summary>Runs everything deferred so far and what that defers; true when there was anything.</summary>
        public bool Run()
        {
            bool ran = false;
            while (_actions.TryDequeue(out var action))
            {
                ran = true;
                action();
            }

            return ran;
        }
    }

    /// <summary>Formats every message (a bug there is a bug too) and keeps the errors, which are findings.</summary>
    private sealed class FindingLogger : ILogger
    {
        private readonly ConcurrentQueue<string> _errors = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string message = formatter(state, exception);
            if (logLevel >= LogLevel.Error)
            {
                _errors.Enqueue($"{logLevel} {eventId}: {message}{(exception is null ? "" : Environment.NewLine + exception)}");
            }
        }

        public void ThrowIfErrors()
        {
            if (_errors.IsEmpty)
            {
                return;
            }

            var errors = new List<string>();
            while (_errors.TryDequeue(out var error))
            {
                errors.Add(error);
            }

            throw new FuzzFinding("the target logged an error:" + Environment.NewLine + string.Join(Environment.NewLine, errors));
        }
    }

    /// <summary>Time as usual, but no timer ever fires.</summary>
    private sealed class StoppedTimers : TimeProvider
    {
        public static readonly StoppedTimers Instance = new();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new Stopped();

        private sealed class Stopped : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// A volume run one request at a time by the harness: requests wait in the order the target
    /// submitted them, each goes to the memory volume (its checks and errors included) only once the
    /// one before it completed, and its completion is delivered on the harness's thread. A device of
    /// queue depth one that is also a reactor: the same requests give the same results, every time.
    /// </summary>
    private sealed class SteppedVolume(IBlockVolume inner) : IBlockVolume
    {
        private readonly ConcurrentQueue<(BlockRequest Request, IBlockCompletion Completion, ulong UserData)> _waiting = new();
        private readonly ConcurrentQueue<(IBlockCompletion Completion, ulong UserData, int Error)> _done = new();
        private bool _running;

        public long SizeBytes => inner.SizeBytes;

        public int BlockSize => inner.BlockSize;

        public int BufferAlignment => inner.BufferAlignment;

        public bool DeallocatedReadsZeroes => inner.DeallocatedReadsZeroes;

        /// <summary>No request running or waiting.</summary>
        public bool Idle => !_running && _waiting.IsEmpty;

        public void Submit(in BlockRequest request, IBlockCompletion completion, ulong userData) => _waiting.Enqueue((request, completion, userData));

        /// <summary>Zeroes the whole volume (between cases: nothing else runs).</summary>
        public void Zero()
        {
            var zeroed = new Zeroed();
            inner.Submit(new BlockRequest(BlockOperation.WriteZeroes, 0, inner.SizeBytes), zeroed, 0);
            zeroed.Done.Wait();
            if (zeroed.Error != 0)
            {
                throw new InvalidOperationException($"zeroing the memory volume failed with errno {zeroed.Error}");
            }
        }

        /// <summary>Delivers the running request's completion once it is there, or starts the next request; true when it did either.</summary>
        public bool Pump()
        {
            if (_running)
            {
                if (!_done.TryDequeue(out var done))
                {
                    return false;
                }

                _running = false;
                done.Completion.OnBlockCompleted(done.UserData, done.Error);
                return true;
            }

            if (!_waiting.TryDequeue(out var next))
            {
                return false;
            }

            _running = true;
            inner.Submit(next.Request, new Held(_done, next.Completion), next.UserData);
            return true;
        }

        public void Dispose()
        {
            // Shared by every case: the harness disposes the memory volume.
        }

        private sealed class Zeroed : IBlockCompletion
        {
            public ManualResetEventSlim Done { get; } = new();

            public int Error { get; private set; }

            public void OnBlockCompleted(ulong userData, int error)
            {
                Error = error;
                Done.Set();
            }
        }

        private sealed class Held(ConcurrentQueue<(IBlockCompletion, ulong, int)> done, IBlockCompletion completion) : IBlockCompletion
        {
            public void OnBlockCompleted(ulong userData, int error) => done.Enqueue((completion, userData, error));
        }
    }
}
