using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using NovaStor.Protocol;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// One controller over two paths of a target with two listeners: namespace 1 is in ANA group 2,
/// optimized on port 1 and non-optimized on port 2. Which path serves I/O is read from the
/// target's SMART log of each path's controller (host read and write commands count per controller).
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class MultipathTests : IAsyncLifetime
{
    private const uint Group = 2;
    private readonly int _secondPort = RunningTarget.FreePort();
    private RunningTarget _target = null!;
    private TargetPorts _ports = null!;

    private IPEndPoint Second => new(IPAddress.Loopback, _secondPort);

    public async Task InitializeAsync()
    {
        var target = RunningTarget.Create();
        await target.StartAgainAsync(
            "--NovaStor:Listeners:0:Port=" + target.Port,
            "--NovaStor:Listeners:1:Port=" + _secondPort,
            "--NovaStor:Listeners:1:AnaStates:2=NonOptimized",
            "--NovaStor:Subsystems:0:Nqn=" + RunningTarget.DefaultNqn,
            "--NovaStor:Subsystems:0:AllowAnyHost=true",
            "--NovaStor:Subsystems:0:Namespaces:0:Volume=shared",
            "--NovaStor:Subsystems:0:Namespaces:0:Backend=Memory",
            "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=16777216",
            "--NovaStor:Subsystems:0:Namespaces:0:AnaGroup=2");
        _target = target;
        _ports = new TargetPorts(target);
    }

    public async Task DisposeAsync() => await _target.DisposeAsync();

    private static NvmeConnectionOptions Options(params EndPoint[] more) => new()
    {
        AdditionalPaths = more,
        IoQueues = 2,
        KeepAliveTimeout = TimeSpan.FromSeconds(2),
        ControllerLossTimeout = TimeSpan.FromSeconds(10),
        ReconnectDelay = TimeSpan.FromMilliseconds(50),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(400),
    };

    [Fact]
    public async Task Io_goes_to_the_optimized_path_and_not_to_the_non_optimized_one()
    {
        await using var controller = await NvmeController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, Options(Second)).Within();
        Assert.Equal(2, controller.Paths.Count);
        Assert.All(controller.Paths, p => Assert.Equal(NvmeControllerState.Live, p.State));
        Assert.NotEqual(controller.Paths[0].ControllerId, controller.Paths[1].ControllerId);
        Assert.Equal(AnaState.Optimized, controller.Paths[0].AnaStateOf(Group));
        Assert.Equal(AnaState.NonOptimized, controller.Paths[1].AnaStateOf(Group));
        var ns = controller.Namespace(1);

        var before = await CountersAsync(controller);
        var data = Support.RandomBytes(4096, 1);
        var back = new byte[4096];
        for (int i = 0; i < 100; i++)
        {
            Support.AssertSuccess(await ns.WriteAsync((ulong)i * 8, data).Within(), "Write");
            Support.AssertSuccess(await ns.ReadAsync((ulong)i * 8, back).Within(), "Read");
        }

        var after = await CountersAsync(controller);
        Assert.Equal((100UL, 100UL), Delta(before[0], after[0]));
        Assert.Equal((0UL, 0UL), Delta(before[1], after[1]));
    }

    [Fact]
    public async Task An_inaccessible_optimized_path_moves_io_to_the_non_optimized_one_and_back_without_a_caller_error()
    {
        await using var controller = await NvmeController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, Options(Second)).Within();
        await using var loop = new VerifyLoop(controller.Namespace(1));
        await loop.WaitForRoundsAsync(20);

        Assert.True(_ports.SetAnaState(1, Group, AnaState.Inaccessible));
        await EventuallyAsync(() => controller.Paths[0].AnaStateOf(Group) == AnaState.Inaccessible, "path 1 never learnt its group became inaccessible");
        await AssertIoGoesToAsync(controller, loop, served: 1, idle: 0);

        Assert.True(_ports.SetAnaState(1, Group, AnaState.Optimized));
        // No I/O fails on port 1 any more: only the ANA change notice can tell the host.
        await EventuallyAsync(() => controller.Paths[0].AnaStateOf(Group) == AnaState.Optimized, "path 1 never learnt its group is optimized again (ANA change notice)");
        await AssertIoGoesToAsync(controller, loop, served: 0, idle: 1);

        await loop.StopAsync();
    }

    [Fact]
    public async Task A_listener_stopped_mid_io_fails_over_without_a_caller_error_and_the_data_reads_back()
    {
        await using var controller = await NvmeController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, Options(Second)).Within();
        await using var loop = new VerifyLoop(controller.Namespace(1));
        await loop.WaitForRoundsAsync(20);

        await _ports.StopListenerAsync(1).Within();
        await loop.WaitForRoundsAsync(100);

        Assert.NotEqual(NvmeControllerState.Live, controller.Paths[0].State);
        Assert.Equal(NvmeControllerState.Live, controller.State);
        await AssertIoGoesToAsync(controller, loop, served: 1, idle: null);
        await loop.StopAsync();
        await loop.VerifyAllAsync();
    }

    [Fact]
    public async Task A_dropped_path_reconnects_rereads_its_ana_states_and_takes_the_io_back()
    {
        await using var relay = new DroppingRelay(_target.EndPoint);
        await using var controller = await NvmeController.ConnectAsync(relay.EndPoint, RunningTarget.DefaultNqn, Options(Second)).Within();
        await using var loop = new VerifyLoop(controller.Namespace(1));
        await loop.WaitForRoundsAsync(20);
        int anaReads = controller.Paths[0].AnaLogReads;

        relay.Drop();
        await loop.WaitForRoundsAsync(50);
        await EventuallyAsync(() => controller.Paths[0].Reconnects >= 1 && controller.Paths[0].State == NvmeControllerState.Live, "path 1 did not reconnect");

        Assert.True(controller.Paths[0].AnaLogReads > anaReads, "the reconnected path did not read its ANA log");
        await AssertIoGoesToAsync(controller, loop, served: 0, idle: 1);
        await loop.StopAsync();
        await loop.VerifyAllAsync();
    }

    [Fact]
    public async Task With_every_path_inaccessible_the_caller_gets_the_path_status_promptly()
    {
        await using var controller = await NvmeController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, Options(Second)).Within();
        var ns = controller.Namespace(1);
        Assert.True(_ports.SetAnaState(1, Group, AnaState.Inaccessible));
        Assert.True(_ports.SetAnaState(2, Group, AnaState.Inaccessible));

        var clock = Stopwatch.StartNew();
        var write = await ns.WriteAsync(0, Support.RandomBytes(512, 5)).Within();
        var read = await ns.ReadAsync(0, new byte[512]).Within();

        foreach (var result in new[] { write, read })
        {
            Assert.Equal(StatusCodeType.PathRelated, result.Status.CodeType);
            Assert.Equal(0x02, result.Status.Code); // Asymmetric Access Inaccessible
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");

        // Port 2 back to non-optimized: I/O works again, on that path.
        _ports.SetAnaState(2, Group, AnaState.NonOptimized);
        await EventuallyAsync(() => controller.Paths[1].AnaStateOf(Group) == AnaState.NonOptimized, "path 2 never learnt its group is usable again");
        Support.AssertSuccess(await ns.ReadAsync(0, new byte[512]).Within(), "Read after port 2 recovered");
    }

    [Fact]
    public async Task A_path_whose_namespace_is_another_volume_is_refused_and_nothing_stays_connected()
    {
        // Another target serving the same NQN: NSID 1 there is a different volume (another NGUID).
        await using var other = await RunningTarget.StartAsync();
        var refused = await Assert.ThrowsAsync<NvmePathMismatchException>(() => NvmeController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, Options(other.EndPoint)).Within());
        Assert.Contains(other.EndPoint.ToString(), refused.Message, StringComparison.Ordinal);
        Assert.Contains("refused", refused.Message, StringComparison.Ordinal);
        Assert.Contains("NGUID", refused.Message, StringComparison.Ordinal);

        // And a path to a target without the subsystem fails the connect as well.
        await using var elsewhere = await RunningTarget.StartAsync(Support.FourKTarget);
        await Assert.ThrowsAnyAsync<Exception>(() => NvmeController.ConnectAsync(_target.EndPoint, Support.FourKNqn, Options(elsewhere.EndPoint)).Within());
    }

    /// <summary>
    /// Over the next rounds of the loop, path <paramref name="served"/> carries every read and write
    /// and path <paramref name="idle"/> none. A few rounds first let commands already in flight land.
    /// </summary>
    private static async Task AssertIoGoesToAsync(NvmeController controller, VerifyLoop loop, int served, int? idle)
    {
        await loop.WaitForRoundsAsync(5);
        var before = await CountersAsync(controller, served, idle);
        await loop.WaitForRoundsAsync(50);
        var after = await CountersAsync(controller, served, idle);
        var (reads, writes) = Delta(before[served], after[served]);
        Assert.True(reads >= 50 && writes >= 50, $"path {served + 1} served {reads} reads and {writes} writes in 50 rounds");
        if (idle is int other)
        {
            Assert.Equal((0UL, 0UL), Delta(before[other], after[other]));
        }
    }

    private static async Task<(ulong Reads, ulong Writes)[]> CountersAsync(NvmeController controller, params int?[] only)
    {
        var result = new (ulong, ulong)[controller.Paths.Count];
        for (int i = 0; i < result.Length; i++)
        {
            if (only.Length > 0 && !only.Contains(i))
            {
                continue;
            }

            // SMART / Health (02h): host read commands @64, host write commands @80 (128-bit; the low half is enough).
            var page = new byte[SmartHealthLog.Length];
            Support.AssertSuccess(await controller.Paths[i].AdminAsync(NvmeCommands.GetLogPage(LogPageIdentifiers.Smart, page.Length), page).Within(), $"SMART log of path {i + 1}");
            result[i] = (BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(64)), BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(80)));
        }

        return result;
    }

    private static (ulong, ulong) Delta((ulong Reads, ulong Writes) before, (ulong Reads, ulong Writes) after) => (after.Reads - before.Reads, after.Writes - before.Writes);

    private static async Task EventuallyAsync(Func<bool> condition, string message)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Support.Limit, message);
            await Task.Delay(10);
        }
    }

    /// <summary>
    /// Writes a 4 KiB block stamped with its round, reads it back and compares, round after round
    /// over 64 blocks, until stopped (at most 60 s). Any error status, exception or mismatch ends it
    /// and is rethrown by every wait.
    /// </summary>
    private sealed class VerifyLoop : IAsyncDisposable
    {
        private const int Blocks = 64, Bytes = 4096;
        private readonly NvmeNamespace _ns;
        private readonly byte[][] _last = new byte[Blocks][];
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _running;
        private int _rounds;

        public VerifyLoop(NvmeNamespace ns)
        {
            _ns = ns;
            _running = Task.Run(RunAsync);
        }

        private async Task RunAsync()
        {
            var clock = Stopwatch.StartNew();
            var back = new byte[Bytes];
            for (int round = 0; !_stop.IsCancellationRequested && clock.Elapsed < TimeSpan.FromSeconds(60); round++)
            {
                int slot = round % Blocks;
                var data = Support.RandomBytes(Bytes, round);
                BinaryPrimitives.WriteInt32LittleEndian(data, round);
                ulong block = (ulong)(slot * Bytes / _ns.BlockSize);
                Support.AssertSuccess(await _ns.WriteAsync(block, data).Within(), $"Write in round {round}");
                _last[slot] = data;
                Support.AssertSuccess(await _ns.ReadAsync(block, back).Within(), $"Read in round {round}");
                Assert.True(back.AsSpan().SequenceEqual(data), $"round {round} read back other data");
                Interlocked.Increment(ref _rounds);
            }
        }

        public async Task WaitForRoundsAsync(int more)
        {
            int goal = Volatile.Read(ref _rounds) + more;
            var clock = Stopwatch.StartNew();
            while (Volatile.Read(ref _rounds) < goal)
            {
                if (_running.IsCompleted)
                {
                    await _running;
                    Assert.Fail($"the loop ended after {_rounds} rounds, before {goal}");
                }

                Assert.True(clock.Elapsed < Support.Limit, $"only {_rounds} of {goal} rounds within {Support.Limit}");
                await Task.Delay(5);
            }
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _running.Within();
        }

        /// <summary>Every block holds what the loop last wrote there.</summary>
        public async Task VerifyAllAsync()
        {
            var back = new byte[Bytes];
            for (int slot = 0; slot < Blocks; slot++)
            {
                if (_last[slot] is { } expected)
                {
                    Support.AssertSuccess(await _ns.ReadAsync((ulong)(slot * Bytes / _ns.BlockSize), back).Within(), "Read back");
                    Assert.True(back.AsSpan().SequenceEqual(expected), $"block slot {slot} reads back other data");
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _running.WaitAsync(Support.Limit);
            }
            catch (Exception)
            {
                // The test has already failed or asserted what it needed.
            }

            _stop.Dispose();
        }
    }
}
