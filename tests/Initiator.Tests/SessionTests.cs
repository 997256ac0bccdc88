using System.Diagnostics;
using NovaStor.Initiator.Discovery;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>Keep-alive, reconnect, controller loss and disconnect: each on its own target.</summary>
[Collection(nameof(RunsAlone))]
public sealed class SessionTests
{
    [Fact]
    public async Task Keep_alive_holds_an_idle_controller_past_three_kato_periods()
    {
        await using var target = await RunningTarget.StartAsync();
        await using var controller = await Support.ConnectAsync(target, new NvmeConnectionOptions { KeepAliveTimeout = TimeSpan.FromSeconds(1), IoQueues = 2 });
        var ns = controller.Namespace(1);

        await Task.Delay(TimeSpan.FromSeconds(3.5));

        Assert.True(controller.Reconnects == 0 && controller.State == NvmeControllerState.Live,
            $"{controller.State}, {controller.Reconnects} reconnects; lost because: {controller.LastConnectionFailure}");
        var data = Support.RandomBytes(4096, 1);
        Support.AssertSuccess(await ns.WriteAsync(10, data).Within(), "Write after idling");
        var back = new byte[4096];
        Support.AssertSuccess(await ns.ReadAsync(10, back).Within(), "Read after idling");
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task A_restarted_target_is_reconnected_and_io_waiting_meanwhile_completes()
    {
        await using var target = await RunningTarget.StartAsync();
        var options = new NvmeConnectionOptions { IoQueues = 2, KeepAliveTimeout = TimeSpan.FromSeconds(2), ControllerLossTimeout = TimeSpan.FromSeconds(20), ReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(400) };
        await using var controller = await Support.ConnectAsync(target, options);
        var ns = controller.Namespace(1);
        var data = Support.RandomBytes(64 * 1024, 2);
        Support.AssertSuccess(await ns.WriteAsync(2000, data, forceUnitAccess: true).Within(), "Write before the restart");
        Support.AssertSuccess(await ns.FlushAsync().Within(), "Flush before the restart");
        ushort firstId = controller.ControllerId;

        await target.StopAsync();
        // Issued while the target is down: waits for the reconnect, then completes.
        var back = new byte[data.Length];
        var waiting = ns.ReadAsync(2000, back).AsTask();
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(waiting.IsCompleted, "a read completed while the target was down");
        Assert.NotEqual(NvmeControllerState.Live, controller.State);
        await target.StartAgainAsync();

        Support.AssertSuccess(await waiting.Within(), "Read issued during the outage");
        Assert.Equal(data, back);
        Assert.Equal(NvmeControllerState.Live, controller.State);
        Assert.True(controller.Reconnects >= 1);
        Assert.Equal(2, controller.IoQueueCount);
        Assert.Same(ns, controller.Namespace(1));
        _ = firstId;

        var more = Support.RandomBytes(4096, 3);
        Support.AssertSuccess(await ns.WriteAsync(3000, more).Within(), "Write after the reconnect");
        var moreBack = new byte[4096];
        Support.AssertSuccess(await ns.ReadAsync(3000, moreBack).Within(), "Read after the reconnect");
        Assert.Equal(more, moreBack);
    }

    [Fact]
    public async Task Commands_in_flight_when_the_target_restarts_are_resent_and_read_back()
    {
        await using var target = await RunningTarget.StartAsync();
        var options = new NvmeConnectionOptions { IoQueues = 2, ControllerLossTimeout = TimeSpan.FromSeconds(20), ReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(200) };
        await using var controller = await Support.ConnectAsync(target, options);
        var ns = controller.Namespace(1);
        using var stop = new CancellationTokenSource();
        int rounds = 0;
        var workers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
        {
            var data = new byte[8192];
            var back = new byte[8192];
            ulong block = 10_000 + ((ulong)w * 16);
            for (int round = 0; !stop.IsCancellationRequested || round < 3; round++)
            {
                new Random((w * 1000) + round).NextBytes(data);
                Support.AssertSuccess(await ns.WriteAsync(block, data), "Write");
                Support.AssertSuccess(await ns.ReadAsync(block, back), "Read");
                Assert.True(data.AsSpan().SequenceEqual(back), $"worker {w} round {round}: read differs from write");
                Interlocked.Increment(ref rounds);
            }
        })).ToArray();

        await Task.Delay(300);
        await target.StopAsync();
        await Task.Delay(300);
        await target.StartAgainAsync();
        await Task.Delay(500);
        await stop.CancelAsync();

        await Task.WhenAll(workers).Within();
        Assert.True(controller.Reconnects >= 1, "no reconnect happened");
        Assert.True(rounds > 48, $"only {rounds} rounds");
    }

    [Theory]
    [InlineData(1)] // hangs up right after answering CC.SHN, before the host reads CSTS
    [InlineData(2)] // hangs up right after reporting CSTS.SHST complete
    public async Task A_controller_that_hangs_up_after_shutdown_ends_the_association_cleanly(int answersBeforeClose)
    {
        await using var target = await RunningTarget.StartAsync();
        await using var relay = new CloseAfterShutdownRelay(target.EndPoint, answersBeforeClose);
        var options = new NvmeConnectionOptions { ReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(200) };
        var controller = await NvmeController.ConnectAsync(relay.EndPoint, RunningTarget.DefaultNqn, options).Within();
        var data = Support.RandomBytes(4096, 9);
        Support.AssertSuccess(await controller.Namespace(1).WriteAsync(8, data).Within(), "Write");

        // The normal end of an association, however the target closes it: no error.
        await controller.DisconnectAsync().Within();
        await controller.DisposeAsync();

        Assert.True(relay.Closed, "the relay never saw the shutdown, so the test proved nothing");
        Assert.Equal(0, controller.Reconnects);
    }

    [Fact]
    public async Task A_silent_controller_is_reset_after_the_io_timeout_and_the_command_resent()
    {
        await using var target = await RunningTarget.StartAsync();
        await using var proxy = new FreezingProxy(target.EndPoint);
        var options = new NvmeConnectionOptions { IoTimeout = TimeSpan.FromSeconds(1), KeepAliveTimeout = TimeSpan.Zero, ReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(200) };
        await using var controller = await NvmeController.ConnectAsync(proxy.EndPoint, RunningTarget.DefaultNqn, options).Within();
        var ns = controller.Namespace(1);
        var data = Support.RandomBytes(4096, 6);
        Support.AssertSuccess(await ns.WriteAsync(4000, data).Within(), "Write");

        proxy.Freeze();
        var back = new byte[4096];
        var clock = Stopwatch.StartNew();
        var read = ns.ReadAsync(4000, back).AsTask();
        await Task.Delay(TimeSpan.FromSeconds(1.6));
        Assert.False(read.IsCompleted, "the read completed through a frozen connection");
        proxy.Thaw();

        Support.AssertSuccess(await read.Within(), "Read resent after the I/O timeout");
        Assert.Equal(data, back);
        Assert.True(controller.Reconnects >= 1, "the silent association was not reset");
        Assert.Contains("I/O timeout", controller.LastConnectionFailure?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Io_fails_with_a_clear_error_once_the_controller_loss_timeout_passes()
    {
        await using var target = await RunningTarget.StartAsync();
        var loss = TimeSpan.FromSeconds(2);
        var options = new NvmeConnectionOptions { ControllerLossTimeout = loss, ReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromMilliseconds(500), KeepAliveTimeout = TimeSpan.FromSeconds(1) };
        await using var controller = await Support.ConnectAsync(target, options);
        var ns = controller.Namespace(1);
        Support.AssertSuccess(await ns.ReadAsync(0, new byte[512]).Within(), "Read while connected");

        var clock = Stopwatch.StartNew();
        await target.StopAsync();
        var buffers = Enumerable.Range(0, 16).Select(_ => new byte[4096]).ToArray();
        var reads = buffers.Select((b, i) => ns.ReadAsync((ulong)(i * 8), b).AsTask()).ToArray();

        foreach (var read in reads)
        {
            var error = await Assert.ThrowsAsync<ControllerLostException>(() => read.WaitAsync(TimeSpan.FromSeconds(15)));
            Assert.Contains("controller-loss timeout", error.Message, StringComparison.Ordinal);
        }

        Assert.True(clock.Elapsed >= loss - TimeSpan.FromMilliseconds(200), $"gave up after only {clock.Elapsed}");
        Assert.True(clock.Elapsed < loss + TimeSpan.FromSeconds(8), $"gave up only after {clock.Elapsed}");
        Assert.Equal(NvmeControllerState.Lost, controller.State);

        // Later commands fail at once, never hang.
        await Assert.ThrowsAsync<ControllerLostException>(() => ns.WriteAsync(0, new byte[512]).AsTask().WaitAsync(TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public async Task Disconnect_shuts_the_controller_down_and_frees_its_id()
    {
        await using var target = await RunningTarget.StartAsync();
        var controller = await Support.ConnectAsync(target, new NvmeConnectionOptions { IoQueues = 2 });
        var ns = controller.Namespace(1);
        var data = Support.RandomBytes(4096, 4);
        Support.AssertSuccess(await ns.WriteAsync(50, data).Within(), "Write");

        await controller.DisconnectAsync().Within();

        Assert.Equal(NvmeControllerState.Closed, controller.State);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => ns.ReadAsync(50, new byte[4096]).AsTask().WaitAsync(TimeSpan.FromSeconds(2)));
        await controller.DisposeAsync();

        // The write was made durable by the shutdown and is there for the next host.
        await using var next = await Support.ConnectAsync(target);
        var back = new byte[4096];
        Support.AssertSuccess(await next.Namespace(1).ReadAsync(50, back).Within(), "Read by the next host");
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task Discovery_lists_the_subsystems_under_one_generation()
    {
        await using var target = await RunningTarget.StartAsync(Support.FourKTarget);
        var page = await NvmeDiscovery.GetLogPageAsync(target.EndPoint).Within();

        var subsystem = Assert.Single(page.Subsystems);
        Assert.Equal(Support.FourKNqn, subsystem.SubsystemNqn);
        Assert.Equal(target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), subsystem.ServiceId);
        Assert.Equal("127.0.0.1", subsystem.Address);
        Assert.Equal(3, subsystem.TransportType);
        Assert.Empty(page.Referrals);
        Assert.Contains(page.Records, r => r.SubsystemType == 3 && r.SubsystemNqn == NvmeDiscovery.DiscoveryNqn);

        // What discovery says is enough to connect.
        await using var controller = await NvmeController.ConnectAsync(
            new System.Net.IPEndPoint(System.Net.IPAddress.Parse(subsystem.Address), int.Parse(subsystem.ServiceId, System.Globalization.CultureInfo.InvariantCulture)),
            subsystem.SubsystemNqn).Within();
        Assert.Equal(4096, controller.Namespace(1).BlockSize);
    }
}
