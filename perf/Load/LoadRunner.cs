using System.Buffers.Binary;
using System.Diagnostics;
using NovaStor.Initiator;

namespace NovaStor.Load;

/// <summary>
/// A fio-like load generator on the managed initiator: <see cref="LoadJob.Workers"/> loops, each
/// with one I/O in flight, spread over the controller's I/O queues by the namespace API.
/// </summary>
/// <remarks>
/// Each worker is one async loop over a pinned buffer of its own, so steady state allocates nothing
/// per I/O (the namespace API completes pooled value tasks; the loop's state machine is boxed once).
/// Connected with <see cref="ConnectionOptionsFor"/>, a worker's continuation runs inline on the
/// I/O queue's thread and issues its next I/O from there (run to completion: no thread hop per
/// I/O, so the load generator is not what limits the target); it never blocks.
/// Latency is submit to completion as the caller sees it, recorded in a shared log-linear
/// histogram. Counters and the histogram are reset when the ramp ends; stopping (runtime over,
/// cancellation or a transport failure) lets every worker finish its I/O in flight.
/// </remarks>
public static class LoadRunner
{
    /// <summary>
    /// The connection options a load runs best with: inline completions (the workers never block
    /// in a continuation) and one command slot more than the job keeps in flight per queue, so
    /// the queue itself never throttles it.
    /// </summary>
    public static NvmeConnectionOptions ConnectionOptionsFor(NvmeConnectionOptions options, LoadJob job)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(job);
        return options with { InlineCompletions = true, QueueDepth = Math.Max(options.QueueDepth, job.QueueDepth + 1) };
    }

    /// <exception cref="ArgumentException">The job does not fit the namespace.</exception>
    /// <exception cref="InvalidOperationException">The namespace does not exist.</exception>
    public static async Task<LoadReport> RunAsync(NvmeController controller, LoadJob job, Action<LoadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(job);
        job.Validate();
        var ns = controller.Namespace(job.NamespaceId);
        var run = new LoadRun(ns, job);
        using var stop = cancellationToken.Register(static state => ((LoadRun)state!).Stop(), run);

        var workers = new Task[job.Workers];
        for (int i = 0; i < workers.Length; i++)
        {
            workers[i] = run.WorkerAsync(i);
        }

        var clock = Stopwatch.StartNew();
        await run.WaitAsync(job.RampTime, clock, progress, measuring: false).ConfigureAwait(false);
        run.StartMeasuring();
        long measureStart = Stopwatch.GetTimestamp();
        double clientCpuStart = ProcessCpu.CurrentSeconds();
        double? targetCpuStart = ProcessCpu.SecondsOf(job.TargetPid);
        var switchesStart = ContextSwitches.Sample(job.TargetPid);
        await run.WaitAsync(job.Runtime, clock, progress, measuring: true).ConfigureAwait(false);
        var measured = run.StopMeasuring();
        long measureEnd = Stopwatch.GetTimestamp();
        double clientCpu = ProcessCpu.CurrentSeconds() - clientCpuStart;
        double? targetCpu = ProcessCpu.SecondsOf(job.TargetPid) - targetCpuStart;
        var switches = ContextSwitches.Sample(job.TargetPid).Since(switchesStart);

        run.Stop();
        await Task.WhenAll(workers).ConfigureAwait(false);
        if (job.Verify && !run.Failed)
        {
            await run.VerifyWrittenAsync().ConfigureAwait(false);
        }

        double seconds = Stopwatch.GetElapsedTime(measureStart, measureEnd).TotalSeconds;
        return new LoadReport(job, measured.Ios, measured.Reads, measured.Writes, seconds,
            measured.Ios / seconds, measured.Ios * (double)job.BlockSize / seconds / 1e6,
            run.Latency.PercentileMicros(50), run.Latency.PercentileMicros(99), run.Latency.PercentileMicros(99.9),
            clientCpu, targetCpu, run.Errors, run.FirstError, run.VerifiedBlocks, run.VerifyFailures)
        {
            ClientContextSwitches = switches.Client,
            TargetContextSwitches = switches.Target,
        };
    }

    /// <summary>The state of one run, shared by its workers.</summary>
    private sealed class LoadRun
    {
        private const int Ramping = 0;
        private const int Measuring = 1;
        private const int Stopping = 2;
        private const int StampBytes = 16;

        private readonly NvmeNamespace _namespace;
        private readonly LoadJob _job;
        private readonly long _firstBlock;
        private readonly int _blocksPerIo;
        private readonly long _units;
        private readonly long[]? _generation;
        private int _phase;
        private int _measuring;
        private long _sequential;
        private long _ios;
        private long _reads;
        private long _writes;
        private long _errors;
        private long _verified;
        private long _verifyFailures;
        private string? _firstError;

        public LoadRun(NvmeNamespace ns, LoadJob job)
        {
            _namespace = ns;
            _job = job;
            if (job.BlockSize % ns.BlockSize != 0)
            {
                throw new ArgumentException($"bs {job.BlockSize} is not a multiple of the namespace's {ns.BlockSize}-byte blocks.");
            }

            long namespaceBytes = (long)ns.BlockCount * ns.BlockSize;
            long size = job.SizeBytes == 0 ? namespaceBytes - job.OffsetBytes : job.SizeBytes;
            if (job.OffsetBytes % ns.BlockSize != 0 || job.OffsetBytes + size > namespaceBytes || size < job.BlockSize)
            {
                throw new ArgumentException($"offset {job.OffsetBytes} and size {size} do not fit namespace {ns.Id} ({namespaceBytes} bytes, {ns.BlockSize}-byte blocks) with bs {job.BlockSize}.");
            }

            _firstBlock = job.OffsetBytes / ns.BlockSize;
            _blocksPerIo = job.BlockSize / ns.BlockSize;
            _units = size / job.BlockSize;
            if (job.Verify)
            {
                if (_units > 64L << 20)
                {
                    throw new ArgumentException($"verify keeps a generation per {job.BlockSize}-byte unit: {_units} units is too many; give a smaller --size.");
                }

                _generation = new long[_units];
            }
        }

        public LatencyHistogram Latency { get; } = new();

        public long Errors => Interlocked.Read(ref _errors);

        public string? FirstError => Volatile.Read(ref _firstError);

        public bool Failed => Errors > 0 || VerifyFailures > 0;

        public long VerifiedBlocks => Interlocked.Read(ref _verified);

        public long VerifyFailures => Interlocked.Read(ref _verifyFailures);

        public void Stop() => Volatile.Write(ref _phase, Stopping);

        public void StartMeasuring()
        {
            Latency.Clear();
            Interlocked.Exchange(ref _ios, 0);
            Interlocked.Exchange(ref _reads, 0);
            Interlocked.Exchange(ref _writes, 0);
            Interlocked.CompareExchange(ref _phase, Measuring, Ramping);
            Volatile.Write(ref _measuring, 1);
        }

        public (long Ios, long Reads, long Writes) StopMeasuring()
        {
            Volatile.Write(ref _measuring, 0);
            long reads = Interlocked.Read(ref _reads);
            long writes = Interlocked.Read(ref _writes);
            return (reads + writes, reads, writes);
        }

        /// <summary>Waits <paramref name="duration"/> (or until stopped), reporting progress each second.</summary>
        public async Task WaitAsync(TimeSpan duration, Stopwatch clock, Action<LoadProgress>? progress, bool measuring)
        {
            long lastIos = Interlocked.Read(ref _ios);
            var lastTick = clock.Elapsed;
            var end = clock.Elapsed + duration;
            while (Volatile.Read(ref _phase) != Stopping && clock.Elapsed < end)
            {
                // Read the clock once: the loop's check and this read may straddle the end, and a
                // negative delay throws.
                var step = end - clock.Elapsed;
                if (step <= TimeSpan.Zero)
                {
                    break;
                }

                await Task.Delay(step < TimeSpan.FromSeconds(1) ? step : TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                if (progress is not null)
                {
                    var now = clock.Elapsed;
                    long ios = Interlocked.Read(ref _ios);
                    double interval = Math.Max((now - lastTick).TotalSeconds, 1e-6);
                    double iops = (ios - lastIos) / interval;
                    progress(new LoadProgress(now, measuring, ios, iops, iops * _job.BlockSize / 1e6));
                    lastIos = ios;
                    lastTick = now;
                }
            }
        }

        public async Task WorkerAsync(int worker)
        {
            await Task.Yield(); // every worker starts on the thread pool, not on the caller's stack
            byte[] buffer = GC.AllocateArray<byte>(_job.BlockSize, pinned: true);
            Random.Shared.NextBytes(buffer); // non-zero data, as fio writes
            ulong random = (0x9E3779B97F4A7C15UL * (ulong)(worker + 1)) | 1;
            long writesDone = 0;
            while (Volatile.Read(ref _phase) != Stopping)
            {
                long unit = NextUnit(worker, ref random);
                if (unit < 0)
                {
                    continue;
                }

                bool read = _job.Pattern switch
                {
                    LoadPattern.Read or LoadPattern.RandRead => true,
                    LoadPattern.Write or LoadPattern.RandWrite => false,
                    _ => (int)(Next(ref random) % 100) < _job.ReadPercent,
                };
                ulong block = (ulong)(_firstBlock + (unit * _blocksPerIo));
                long generation = 0;
                if (!read && _generation is not null)
                {
                    generation = ((long)(worker + 1) << 40) | ++writesDone;
                    Stamp(buffer, unit, generation);
                }

                long started = Stopwatch.GetTimestamp();
                NvmeResult result;
                try
                {
                    result = read
                        ? await _namespace.ReadAsync(block, buffer).ConfigureAwait(false)
                        : await _namespace.WriteAsync(block, buffer).ConfigureAwait(false);
                }
                catch (Exception e) when (e is NvmeTransportException or ControllerLostException or IOException or ObjectDisposedException)
                {
                    Fail($"{(read ? "read" : "write")} at block {block}: {e.Message}");
                    return;
                }

                long latency = Stopwatch.GetTimestamp() - started;
                if (!result.IsSuccess)
                {
                    Fail($"{(read ? "read" : "write")} at block {block}: {result.StatusName}");
                    continue;
                }

                if (_generation is not null)
                {
                    if (read)
                    {
                        Check(buffer, unit);
                    }
                    else
                    {
                        _generation[unit] = generation;
                    }
                }

                // Counted during the ramp too (for the progress line); StartMeasuring resets it.
                Interlocked.Increment(ref _ios);
                if (Volatile.Read(ref _measuring) != 0)
                {
                    Interlocked.Increment(ref read ? ref _reads : ref _writes);
                    Latency.Record(latency);
                }
            }
        }

        /// <summary>After the run: every unit written is read back and must hold its last stamp.</summary>
        public async Task VerifyWrittenAsync()
        {
            var readers = new Task[_job.Workers];
            for (int worker = 0; worker < readers.Length; worker++)
            {
                int id = worker;
                readers[worker] = Task.Run(async () =>
                {
                    byte[] buffer = GC.AllocateArray<byte>(_job.BlockSize, pinned: true);
                    for (long unit = id; unit < _units; unit += readers.Length)
                    {
                        if (_generation![unit] == 0)
                        {
                            continue;
                        }

                        var result = await _namespace.ReadAsync((ulong)(_firstBlock + (unit * _blocksPerIo)), buffer).ConfigureAwait(false);
                        if (!result.IsSuccess)
                        {
                            Fail($"verify read of unit {unit}: {result.StatusName}");
                            continue;
                        }

                        Check(buffer, unit);
                    }
                });
            }

            await Task.WhenAll(readers).ConfigureAwait(false);
        }

        /// <summary>
        /// The next unit for a worker. With verify, units are owned (unit mod workers = worker), so
        /// no two I/Os in flight touch one unit and its last stamp is known; -1 means try again.
        /// </summary>
        private long NextUnit(int worker, ref ulong random)
        {
            long unit = _job.IsRandom
                ? (long)Math.BigMul(Next(ref random), (ulong)_units, out _)
                : (Interlocked.Increment(ref _sequential) - 1) % _units;
            if (_generation is null)
            {
                return unit;
            }

            int workers = _job.Workers;
            unit = unit - (unit % workers) + worker;
            return unit < _units ? unit : (unit - workers >= 0 ? unit - workers : -1);
        }

        private static ulong Next(ref ulong state)
        {
            ulong x = state;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            state = x;
            return x;
        }

        /// <summary>(unit, generation) every 16 bytes: a misplaced, stale or torn unit is caught.</summary>
        private static void Stamp(Span<byte> buffer, long unit, long generation)
        {
            for (int i = 0; i + StampBytes <= buffer.Length; i += StampBytes)
            {
                BinaryPrimitives.WriteInt64LittleEndian(buffer[i..], unit);
                BinaryPrimitives.WriteInt64LittleEndian(buffer[(i + 8)..], generation);
            }
        }

        private void Check(ReadOnlySpan<byte> buffer, long unit)
        {
            long expected = _generation![unit];
            if (expected == 0)
            {
                return; // not written in this run: its content is not ours to judge
            }

            Interlocked.Increment(ref _verified);
            for (int i = 0; i + StampBytes <= buffer.Length; i += StampBytes)
            {
                if (BinaryPrimitives.ReadInt64LittleEndian(buffer[i..]) != unit || BinaryPrimitives.ReadInt64LittleEndian(buffer[(i + 8)..]) != expected)
                {
                    if (Interlocked.Increment(ref _verifyFailures) == 1)
                    {
                        Interlocked.CompareExchange(ref _firstError, $"verify: unit {unit} does not hold generation {expected:x} at byte {i}", null);
                    }

                    return;
                }
            }
        }

        /// <summary>An I/O failed: as fio does by default, the run stops at the first error.</summary>
        private void Fail(string message)
        {
            Interlocked.Increment(ref _errors);
            Interlocked.CompareExchange(ref _firstError, message, null);
            Stop();
        }
    }
}
