using Xunit;
using NovaStor.Initiator;
using NovaStor.Protocol;
using NovaStor.Target.Core.Limits;

namespace NovaStor.Target.Tests;

/// <summary>
/// NovaStor:Limits: connections per address and target-wide are closed at accept, controllers per
/// host and target-wide get Controller Busy, and a controller grants at most its I/O queue limit;
/// a host that was already connected keeps doing verified I/O through all of it, and the places
/// come back when connections close.
/// </summary>
public sealed class LimitsTests
{
    [Fact]
    public async Task A_connection_storm_is_closed_at_accept_and_the_connected_host_keeps_working()
    {
        await using var target = await RunningTarget.StartAsync("--NovaStor:Limits:MaxConnectionsPerAddress=6", "--NovaStor:Limits:MaxConnections=100");
        // Admin and I/O queue: two of the six.
        await using var bystander = await Bystander.StartAsync(target, 720_000);

        var storm = new List<RawConnection>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var connection = await RawConnection.OpenAsync(target.EndPoint);
                storm.Add(connection);
                await connection.InitializeAsync();
            }

            for (int i = 0; i < 20; i++)
            {
                await AssertClosedAtAcceptAsync(target);
                if (i % 5 == 0)
                {
                    await bystander.VerifyIoAsync();
                }
            }

            await bystander.VerifyIoAsync();
        }
        finally
        {
            foreach (var connection in storm)
            {
                await connection.DisposeAsync();
            }
        }

        // Their places are free again once the target has seen them close.
        await WaitUntilAsync(() => Admission(target).Connections == 2);
        await using var later = await RawConnection.OpenAsync(target.EndPoint);
        await later.InitializeAsync();
        await bystander.VerifyIoAsync();
    }

    [Fact]
    public async Task Controllers_over_the_host_limit_get_controller_busy_and_other_hosts_do_not()
    {
        await using var target = await RunningTarget.StartAsync("--NovaStor:Limits:MaxControllersPerHost=2");
        var host = HostIdentity.Create();
        await using var first = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, host).Within();
        var second = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, host).Within();

        await using (var queue = await HostQueue.ConnectAsync(target.EndPoint).Within())
        {
            Nvme.AssertStatus(await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(host, 0xFFFF, RunningTarget.DefaultNqn)), 1, 0x81);
        }

        await using (var other = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within())
        {
            Assert.NotNull(await other.IdentifyAsync(IdentifyCns.Controller).Within());
        }

        // A controller that goes away gives its place back.
        await second.DisposeAsync();
        await WaitUntilAsync(() => Admission(target).Controllers == 1);
        await using var third = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, host).Within();
    }

    [Fact]
    public async Task The_target_wide_controller_limit_holds_for_every_host()
    {
        await using var target = await RunningTarget.StartAsync("--NovaStor:Limits:MaxControllers=2");
        await using var a = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        await using var b = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var busy = await Assert.ThrowsAsync<NvmeCommandException>(() => HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within());
        Assert.Equal(0x81, busy.Status.Code);
    }

    [Fact]
    public async Task A_controller_grants_at_most_its_io_queue_limit()
    {
        await using var target = await RunningTarget.StartAsync("--NovaStor:Limits:MaxIoQueuesPerController=2");
        await using var controller = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var granted = await controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.NumberOfQueues, 7 | (7u << 16)));
        Nvme.AssertSuccess(granted);
        Assert.Equal(1u | (1u << 16), granted.Dw0);
        await controller.ConnectIoQueueAsync(1).Within();
        await controller.ConnectIoQueueAsync(2).Within();
        await Assert.ThrowsAsync<NvmeCommandException>(() => controller.ConnectIoQueueAsync(3).Within());
    }

    [Theory]
    [InlineData("--NovaStor:Limits:MaxConnections=0", "NovaStor:Limits:MaxConnections 0 is outside")]
    [InlineData("--NovaStor:Limits:MaxIoQueuesPerController=65", "NovaStor:Limits:MaxIoQueuesPerController 65 is outside 1..64")]
    public async Task A_limit_out_of_range_stops_start_up_naming_it(string setting, string expected)
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningTarget.StartAsync(setting));
        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_refusal_is_logged_once_per_key_per_interval_and_counts_the_rest()
    {
        var time = new SteppedTime();
        var throttle = new LogThrottle(time, TimeSpan.FromMinutes(1), maxKeys: 3);
        Assert.True(throttle.ShouldLog("a", out int suppressed));
        Assert.Equal(0, suppressed);
        Assert.False(throttle.ShouldLog("a", out _));
        Assert.False(throttle.ShouldLog("a", out _));
        Assert.True(throttle.ShouldLog("b", out _));
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.True(throttle.ShouldLog("a", out suppressed));
        Assert.Equal(2, suppressed);

        // Ever new keys: once the table is full they share one entry, so the log stays bounded.
        Assert.True(throttle.ShouldLog("c", out _));
        Assert.True(throttle.ShouldLog("d", out _));
        int logged = Enumerable.Range(0, 1000).Count(i => throttle.ShouldLog($"flood-{i}", out _));
        Assert.True(logged <= 1, $"{logged} of 1000 new keys were logged");
    }

    /// <summary>The target closes a new connection before answering anything (Kestrel's sockets may reset it, even during connect).</summary>
    private static async Task AssertClosedAtAcceptAsync(RunningTarget target)
    {
        try
        {
            await using var refused = await RawConnection.OpenAsync(target.EndPoint);
            Assert.Empty(await refused.ReadUntilClosedAsync(TimeSpan.FromSeconds(10)));
        }
        catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset)
        {
            // Refused with a reset: closed at accept all the same.
        }
    }

    private static AdmissionControl Admission(RunningTarget target) =>
        Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Core.SubsystemRegistry>(target.Services).Admission;

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bounded.Limit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(20);
        }
    }

    /// <summary>A clock the test moves.</summary>
    private sealed class SteppedTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
