using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NovaStor.Fuzz;
using NovaStor.Initiator;
using NovaStor.Protocol;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Target.Tests.Fuzzing;

/// <summary>
/// Runs alone, after the parallel tests: for its 18 s it keeps the machine busy (three mutating
/// connections, two verifying queues), which would stall other tests' hosts past their bounds.
/// </summary>
[CollectionDefinition(nameof(MutatedStreams), DisableParallelization = true)]
public sealed class MutatedStreams;

/// <summary>
/// The network-level counterpart of the coverage-guided fuzzer: valid host streams (the fuzz seed
/// generator's, with fresh identities), mutated with a seeded random generator and replayed against
/// a real target listener on 127.0.0.1 by several raw connections at once, for a bounded time and a
/// bounded number of cases, while healthy hosts do verified I/O (what they read is what they
/// wrote) on another subsystem all along. Runs on whichever engine and transport the suite runs
/// (NovaStor__Engine), so the reactor transports meet the same streams as the pipe transport.
/// </summary>
[Collection(nameof(MutatedStreams))]
public sealed class MutatedStreamTests(ITestOutputHelper output)
{
    private const string FuzzNqn = "nqn.2026-12.io.novastor:mutated";
    private const string HealthyNqn = "nqn.2026-12.io.novastor:healthy";
    private const int Seed = 20261206;
    private const int Workers = 3;

    /// <summary>The most cases started: NOVASTOR_MUTATION_CASES, default 3000 (a long run for memory measurements raises both).</summary>
    private static int MaxCases =>
        int.TryParse(Environment.GetEnvironmentVariable("NOVASTOR_MUTATION_CASES"), out int cases) && cases > 0 ? cases : 3000;

    /// <summary>The healthy hosts' namespace: 64 MiB of 512-byte blocks, half for each of its two queues.</summary>
    private const int HealthyBlocks = 131072;

    /// <summary>How long cases are started for: NOVASTOR_MUTATION_SECONDS, default 18 (the suite runs this once per engine).</summary>
    private static TimeSpan Budget => TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("NOVASTOR_MUTATION_SECONDS"), out int seconds) && seconds > 0 ? seconds : 18);

    [Fact]
    public async Task Mutated_streams_end_only_their_own_connections()
    {
        await using var target = await RunningTarget.StartAsync(
            $"--NovaStor:Subsystems:0:Nqn={FuzzNqn}",
            "--NovaStor:Subsystems:0:AllowAnyHost=true",
            "--NovaStor:Subsystems:0:Namespaces:0:Id=1",
            "--NovaStor:Subsystems:0:Namespaces:0:Volume=mutated-512",
            "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=67108864",
            "--NovaStor:Subsystems:0:Namespaces:0:BlockSize=512",
            "--NovaStor:Subsystems:0:Namespaces:1:Id=2",
            "--NovaStor:Subsystems:0:Namespaces:1:Volume=mutated-4096",
            "--NovaStor:Subsystems:0:Namespaces:1:SizeBytes=16777216",
            "--NovaStor:Subsystems:0:Namespaces:1:BlockSize=4096",
            $"--NovaStor:Subsystems:1:Nqn={HealthyNqn}",
            "--NovaStor:Subsystems:1:AllowAnyHost=true",
            "--NovaStor:Subsystems:1:Namespaces:0:Volume=healthy",
            $"--NovaStor:Subsystems:1:Namespaces:0:SizeBytes={HealthyBlocks * 512L}",
            "--NovaStor:Subsystems:1:Namespaces:0:BlockSize=512",
            // Every fatal transport error is a warning: thousands here. Errors are collected below.
            "--Logging:LogLevel:Default=Error");
        var errors = new ErrorLog();
        target.Services.GetRequiredService<ILoggerFactory>().AddProvider(errors);

        // Healthy hosts: one controller, a plain I/O queue and one with both digests, each writing
        // and reading back its own half of the namespace for the whole test.
        await using var healthy = await HostController.ConnectAsync(target.EndPoint, HealthyNqn, HostIdentity.Create()).Within();
        var plain = await healthy.ConnectIoQueueAsync(1).Within();
        var digested = await healthy.ConnectIoQueueAsync(2, options: new HostQueueOptions { HeaderDigest = true, DataDigest = true }).Within();
        using var stop = new CancellationTokenSource();
        var verified = new int[2];
        var healthyIo = Task.WhenAll(
            VerifiedIoAsync(healthy, plain, 0, Seed + 1, () => Interlocked.Increment(ref verified[0]), stop.Token),
            VerifiedIoAsync(healthy, digested, HealthyBlocks / 2, Seed + 2, () => Interlocked.Increment(ref verified[1]), stop.Token));

        var clock = Stopwatch.StartNew();
        int started = 0;
        var outcomes = new ConcurrentBag<MutatedOutcome>();
        var cases = Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(Seed + (1000 * worker));
            while (clock.Elapsed < Budget && Interlocked.Increment(ref started) <= MaxCases && !healthyIo.IsCompleted)
            {
                outcomes.Add(await RunCaseAsync(target.EndPoint, random, worker));
            }
        })).ToList();

        // A failure anywhere ends the test at once; the healthy hosts' failures included.
        await Task.WhenAny(Task.WhenAll(cases), healthyIo);
        if (healthyIo.IsCompleted)
        {
            await healthyIo; // throws what went wrong
            Assert.Fail("the healthy hosts stopped before the cases ended");
        }

        await Task.WhenAll(cases);
        stop.Cancel();
        await healthyIo.WaitAsync(Bounded.Limit);

        var all = outcomes.ToList();
        output.WriteLine($"{all.Count} mutated connections in {clock.Elapsed.TotalSeconds:0.0} s ({Workers} at a time): " +
            $"{all.Count(o => o.Terminated)} terminated by the target with C2HTermReq, {all.Count(o => o.Reset)} reset, " +
            $"{all.Count(o => o.Pdus == 0)} answered nothing before the host closed; {all.Sum(o => o.Pdus)} PDUs received, all well-formed; " +
            $"healthy hosts verified {verified[0]} + {verified[1]} write/read pairs");
        Assert.True(all.Count >= 50, $"only {all.Count} cases ran");
        Assert.True(verified[0] > 0 && verified[1] > 0, "a healthy queue verified no I/O");
        Assert.True(errors.Entries.IsEmpty, "the target logged errors:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Entries));

        // Still serving: the healthy controller, and newcomers on both subsystems.
        await VerifyOnceAsync(plain, 1000, Seed + 3);
        await using var newcomer = await HostController.ConnectAsync(target.EndPoint, FuzzNqn, HostIdentity.Create()).Within();
        await VerifyOnceAsync(await newcomer.ConnectIoQueueAsync(1).Within(), 5000, Seed + 4);
        await using var late = await HostController.ConnectAsync(target.EndPoint, HealthyNqn, HostIdentity.Create()).Within();
        await VerifyOnceAsync(await late.ConnectIoQueueAsync(1).Within(), 9000, Seed + 5);
    }

    /// <summary>One mutated connection from one of the templates; a failure says how to find the case again.</summary>
    private static async Task<MutatedOutcome> RunCaseAsync(IPEndPoint endPoint, Random random, int worker)
    {
        int caseSeed = random.Next();
        var caseRandom = new Random(caseSeed);
        HostController? victim = null;
        try
        {
            bool headerDigest = caseRandom.Next(2) == 0, dataDigest = caseRandom.Next(2) == 0;
            var host = HostIdentity.Create();
            HostStream template;
            switch (caseRandom.Next(4))
            {
                case 0:
                    template = AdminTemplate(host, headerDigest, dataDigest);
                    break;
                case 1:
                    template = SeedStreams.AdminConnect(host, SeedStreams.DiscoveryNqn, headerDigest, dataDigest);
                    template.Command(NvmeCommands.PropertySet(ControllerProperties.Configuration, SeedStreams.EnableConfiguration));
                    template.Command(NvmeCommands.GetLogPage(LogPageIdentifiers.Discovery, 4096), transferLength: 4096);
                    break;
                default:
                    // An I/O queue needs a controller of the same host: a victim made by the managed host.
                    victim = await HostController.ConnectAsync(endPoint, FuzzNqn, host).Within();
                    template = IoTemplate(host, victim.ControllerId, caseRandom, headerDigest, dataDigest);
                    break;
            }

            var (bytes, mutations) = StreamMutator.Mutate(StreamMutator.Pdus(template.ToArray()), caseRandom);
            try
            {
                return await MutatedConnection.RunAsync(endPoint, bytes, caseRandom);
            }
            catch (Exception ex)
            {
                throw new InvalidOperationException($"worker {worker}, case seed {caseSeed} ({mutations}; {bytes.Length} bytes): {ex.Message}", ex);
            }
        }
        finally
        {
            if (victim is not null)
            {
                // Collateral: the mutant may have done anything to its controller, short of hanging the target.
                try
                {
                    await victim.DisposeAsync().AsTask().Within();
                }
                catch (Exception ex) when (ex is not TimeoutException)
                {
                }
            }
        }
    }

    private static HostStream AdminTemplate(HostIdentity host, bool headerDigest, bool dataDigest)
    {
        var stream = SeedStreams.AdminEnable(host, FuzzNqn, headerDigest, dataDigest);
        stream.Command(NvmeCommands.Identify(IdentifyCns.Namespace, 1), transferLength: IdentifyCns.IdentifyDataLength);
        stream.Command(NvmeCommands.Identify(IdentifyCns.ActiveNamespaceList), transferLength: IdentifyCns.IdentifyDataLength);
        stream.Command(NvmeCommands.GetLogPage(LogPageIdentifiers.Smart, 512), transferLength: 512);
        stream.Command(NvmeCommands.GetFeatures(FeatureId.NumberOfQueues));
        stream.Command(NvmeCommands.KeepAlive());
        return stream;
    }

    private static HostStream IoTemplate(HostIdentity host, ushort controllerId, Random random, bool headerDigest, bool dataDigest)
    {
        ulong block = (ulong)random.Next(0, 100_000);
        var (stream, _) = SeedStreams.VerifiedIo(host, FuzzNqn, controllerId, block, random.Next(), headerDigest, dataDigest);
        stream.Command(NvmeCommands.Write(2, (ulong)random.Next(0, 4000), 2), SeedStreams.Pattern(8192, random.Next()));
        stream.Command(NvmeCommands.Read(2, (ulong)random.Next(0, 4000), 8), transferLength: 32768);
        stream.Command(NvmeCommands.WriteZeroes(1, block + 64, 16));
        stream.Command(NvmeCommands.Compare(1, block, 1), SeedStreams.Pattern(512, 1));
        stream.Command(NvmeCommands.Flush(1));
        return stream;
    }

    /// <summary>Writes random data at random places of its region and reads it back, until stopped.</summary>
    private static async Task VerifiedIoAsync(HostController controller, HostQueue queue, int firstBlock, int seed, Action verified, CancellationToken stop)
    {
        var random = new Random(seed);
        int round = 0;
        while (!stop.IsCancellationRequested)
        {
            int blocks = random.Next(1, 129);
            ulong block = (ulong)(firstBlock + random.Next(0, (HealthyBlocks / 2) - blocks));
            var data = new byte[blocks * 512];
            random.NextBytes(data);
            await queue.WriteAsync(block, data);
            var back = await queue.ReadAsync(block, data.Length);
            Assert.True(data.AsSpan().SequenceEqual(back), $"healthy queue read back other bytes than it wrote at block {block} ({blocks} blocks)");
            verified();
            if (++round % 16 == 0)
            {
                await controller.IdentifyAsync(IdentifyCns.Controller).Within();
            }
        }
    }

    private static async Task VerifyOnceAsync(HostQueue queue, ulong block, int seed)
    {
        var data = Nvme.RandomBytes(32768, seed);
        await queue.WriteAsync(block, data);
        Assert.Equal(data, await queue.ReadAsync(block, data.Length));
    }

    /// <summary>Every message the target logs at Error or above: a queue that failed inside logs one and closes only its connection.</summary>
    private sealed class ErrorLog : ILoggerProvider
    {
        public ConcurrentQueue<string> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(ErrorLog log, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel >= LogLevel.Error)
                {
                    log.Entries.Enqueue($"{category} {eventId}: {formatter(state, exception)}{(exception is null ? "" : Environment.NewLine + exception)}");
                }
            }
        }
    }
}
