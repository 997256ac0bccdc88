using Xunit;
using System.Diagnostics;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>
/// Timing tests run alone, after the parallel ones: on a small machine the other tests' start-up,
/// fsyncs and disposal can stall this process's threads for most of a second, which would delay
/// the host's Keep Alive, not the target's handling of it.
/// </summary>
[CollectionDefinition(nameof(TimingSensitive), DisableParallelization = true)]
public sealed class TimingSensitive;

/// <summary>A host that keeps sending Keep Alive within KATO stays connected.</summary>
[Collection(nameof(TimingSensitive))]
public sealed class KeepAliveTests(SharedTarget shared) : IClassFixture<SharedTarget>
{
    [Fact]
    public async Task A_controller_sending_keep_alive_every_300_ms_stays_connected_for_3_s()
    {
        await using var controller = await HostController.ConnectAsync(shared.Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), keepAliveMs: 1000).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        var kato = await controller.Admin.ExecuteAsync(NvmeCommands.GetFeatures(FeatureId.KeepAliveTimer));
        Nvme.AssertSuccess(kato);
        Assert.Equal(1000u, kato.Dw0);

        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            Nvme.AssertSuccess(await controller.Admin.ExecuteAsync(NvmeCommands.KeepAlive()));
            await Task.Delay(300);
        }

        Assert.Null(controller.Admin.Failure);
        Assert.Null(queue.Failure);
        Assert.Equal(0u, await controller.PropertyGetAsync(ControllerProperties.Status) & 2); // no CFS
        var data = Nvme.RandomBytes(4096, 500);
        await queue.WriteAsync(500_000, data);
        Assert.Equal(data, await queue.ReadAsync(500_000, data.Length));
    }
}

/// <summary>A host that goes silent loses its controller: every queue of it is closed.</summary>
[Collection(nameof(TimingSensitive))]
public sealed class KeepAliveExpiryTests(SharedTarget shared) : IClassFixture<SharedTarget>
{
    [Fact]
    public async Task A_silent_controller_is_torn_down_within_kato_plus_2_s()
    {
        await using var bystander = await Bystander.StartAsync(shared.Target, 510_000);
        await using var controller = await HostController.ConnectAsync(shared.Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), keepAliveMs: 1000).Within();
        var clock = Stopwatch.StartNew();
        var first = await controller.ConnectIoQueueAsync(1).Within();
        var second = await controller.ConnectIoQueueAsync(2).Within();

        var limit = TimeSpan.FromMilliseconds(1000 + 2000);
        await Task.WhenAll(Nvme.ClosedWithAsync(controller.Admin, limit), Nvme.ClosedWithAsync(first, limit), Nvme.ClosedWithAsync(second, limit));
        Assert.True(clock.Elapsed < limit, $"torn down after {clock.Elapsed}");
        // Not before KATO either.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"torn down after only {clock.Elapsed}");

        // Its controller id is free again, others never noticed.
        await bystander.VerifyIoAsync();
        await using var next = await HostController.ConnectAsync(shared.Target.EndPoint, RunningTarget.DefaultNqn, controller.Host).Within();
        var queue = await next.ConnectIoQueueAsync(1).Within();
        await queue.ReadAsync(510_000, 4096);
    }
}
