using Microsoft.Extensions.DependencyInjection;
using NovaStor.BlockEngine;
using NovaStor.Initiator;
using NovaStor.Protocol;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// Command data buffers come from each reactor's bounded pool (the positional engine's one pool):
/// a host that sends reads and never reads its socket holds at most its queue's share, the other
/// hosts keep working, and the stalled queue is closed after NovaStor:Limits:SendStallSeconds,
/// which gives its buffers back. On every transport: the engine's reactors, and Kestrel's sockets
/// (run again with NovaStor__Engine=Aio and Fallback by test.sh).
/// </summary>
public sealed class CommandBufferTests
{
    public static TheoryData<string> Transports => ["Auto", "Sockets"];

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_slow_reader_holds_at_most_its_share_until_it_is_closed_and_others_keep_working(string transport)
    {
        await using var target = await RunningTarget.StartAsync("--NovaStor:Reactors=1", "--NovaStor:CommandBufferMegabytes=4",
            "--NovaStor:Limits:MaxBuffersPerQueue=8", "--NovaStor:Limits:SendStallSeconds=3", $"--NovaStor:Transport={transport}");
        var pool = target.Services.GetRequiredService<Func<EngineLane>>()().CommandBuffers;
        await using var bystander = await Bystander.StartAsync(target, 730_000);

        var (controller, slow) = await RawConnection.OpenIoQueueAsync(target);
        await using var slowController = controller;
        await using var slowQueue = slow;
        slow.ShrinkReceiveBuffer(4096);
        for (ushort cid = 2; cid < 66; cid++)
        {
            var read = NvmeCommands.Read(1, (ulong)cid * 256, 256) with { CommandId = cid };
            await slow.SendAsync(Nvme.CapsulePdu(read with { Sgl = new SglDescriptor(0, 128 * 1024, SglDescriptor.TransportDataBlock) }));
        }

        await Task.Delay(500);
        Assert.NotNull(pool);
        Assert.True(pool.Created <= 32, $"the pool made {pool.Created} buffers, more than its 32");
        Assert.True(pool.InUse <= 8 + 2, $"{pool.InUse} buffers in use: the slow reader took more than its share of 8");
        for (int i = 0; i < 3; i++)
        {
            await bystander.VerifyIoAsync();
        }

        // The 8 MiB of reads cannot all fit in the sockets' buffers: the send stalls, and the target
        // closes the queue that reads nothing, which gives its buffers back (nothing is read here
        // until then: reading would make the send move).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (pool.InUse > 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(pool.InUse <= 2, $"{pool.InUse} buffers still in use 20 s after the slow reader stopped reading");

        // The target ended the slow queue (its connection no longer counts); the bystander's two remain.
        var admission = target.Services.GetRequiredService<Core.SubsystemRegistry>().Admission;
        while (admission.Connections > 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(3, admission.Connections); // the bystander's two and the slow reader's admin queue
        await bystander.VerifyIoAsync();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Commands_wait_for_buffers_instead_of_failing_when_the_pool_is_small(string transport)
    {
        // One buffer per queue: every read and R2T write waits its turn; all data must still be right.
        await using var target = await RunningTarget.StartAsync("--NovaStor:Reactors=1", "--NovaStor:CommandBufferMegabytes=1",
            "--NovaStor:Limits:MaxBuffersPerQueue=1", $"--NovaStor:Transport={transport}");
        var options = new NvmeConnectionOptions { IoQueues = 2, InCapsuleDataLimit = 0 };
        await using var controller = await NvmeController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, options).Within();
        var ns = controller.Namespace(1);
        var writes = new List<Task>();
        var data = new byte[32][];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = Nvme.RandomBytes(64 * 1024, 900 + i);
            writes.Add(ns.WriteAsync((ulong)i * 256, data[i]).AsTask().ContinueWith(t => t.Result.ThrowIfFailed("write"), TaskScheduler.Default));
        }

        await Task.WhenAll(writes).Within();
        var reads = Enumerable.Range(0, data.Length).Select(async i =>
        {
            var back = new byte[64 * 1024];
            (await ns.ReadAsync((ulong)i * 256, back)).ThrowIfFailed("read");
            return back;
        }).ToArray();
        var results = await Task.WhenAll(reads).Within();
        for (int i = 0; i < data.Length; i++)
        {
            Assert.Equal(data[i], results[i]);
        }

        // Every buffer came back, and no more were made than the 1 MiB allows.
        var pool = target.Services.GetRequiredService<Func<EngineLane>>()().CommandBuffers!;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (pool.InUse > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, pool.InUse);
        Assert.InRange(pool.Created, 1, 8);
    }
}
