using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using NovaStor.ControlPlane;
using NovaStor.ControlPlane.V1;
using NovaStor.Initiator;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Statistics;
using Xunit;

namespace NovaStor.Target.Tests.Observability;

/// <summary>
/// The I/O counters through a real target: exact command counts and bytes per queue and per
/// namespace, errors, the latency histogram's totals, what stays with a namespace when its queues
/// close, and the control plane's GetStats answering with the same figures.
/// </summary>
public sealed class StatisticsTests : IAsyncLifetime
{
    private const string Nqn = RunningTarget.DefaultNqn;
    private const long FileNamespaceBytes = 64L << 20;

    private RunningTarget _target = null!;
    private int _controlPlanePort;

    public async Task InitializeAsync()
    {
        _controlPlanePort = RunningTarget.FreePort();
        _target = await RunningTarget.StartAsync(
            "--NovaStor:ControlPlane:Enabled=true", $"--NovaStor:ControlPlane:Port={_controlPlanePort}", "--NovaStor:ControlPlane:Insecure=true",
            "--NovaStor:Subsystems:0:Nqn=" + Nqn,
            "--NovaStor:Subsystems:0:AllowAnyHost=true",
            "--NovaStor:Subsystems:0:Namespaces:0:Id=1",
            "--NovaStor:Subsystems:0:Namespaces:0:Volume=stats-file",
            $"--NovaStor:Subsystems:0:Namespaces:0:SizeBytes={FileNamespaceBytes}",
            "--NovaStor:Subsystems:0:Namespaces:1:Id=2",
            "--NovaStor:Subsystems:0:Namespaces:1:Volume=stats-memory",
            "--NovaStor:Subsystems:0:Namespaces:1:Backend=Memory",
            "--NovaStor:Subsystems:0:Namespaces:1:SizeBytes=16777216");
    }

    public async Task DisposeAsync() => await _target.DisposeAsync();

    [Fact]
    public async Task Reads_writes_other_commands_and_errors_are_counted_exactly_per_queue_and_per_namespace()
    {
        await using var controller = await HostController.ConnectAsync(_target.EndPoint, Nqn, HostIdentity.Create()).Within();
        var queue1 = await controller.ConnectIoQueueAsync(1).Within();
        var queue2 = await controller.ConnectIoQueueAsync(2).Within();

        // Queue 1, namespace 1: three 4 KiB writes (in the capsule), one 32 KiB write (by R2T), two
        // 4 KiB reads, a read past the end (LBA Out of Range), a flush.
        for (int i = 0; i < 3; i++)
        {
            await queue1.WriteAsync((ulong)(i * 8), Nvme.RandomBytes(4096, i));
        }

        await queue1.WriteAsync(64, Nvme.RandomBytes(32768, 3));
        await queue1.ReadAsync(0, 4096);
        await queue1.ReadAsync(64, 4096);
        var outOfRange = await queue1.ExecuteAsync(NvmeCommands.Read(1, (ulong)(FileNamespaceBytes / 512), 8), dataIn: new byte[4096]);
        Nvme.AssertStatus(outOfRange, 0, 0x80);
        Nvme.AssertSuccess(await queue1.ExecuteAsync(NvmeCommands.Flush(1)));

        // Queue 1, namespace 2: a 4 KiB write and an 8 KiB read; a read of a namespace that does not exist.
        await queue1.WriteAsync(0, Nvme.RandomBytes(4096, 4), namespaceId: 2);
        await queue1.ReadAsync(0, 8192, namespaceId: 2);
        var noNamespace = await queue1.ExecuteAsync(NvmeCommands.Read(99, 0, 8), dataIn: new byte[4096]);
        Nvme.AssertStatus(noNamespace, 0, 0x0B);

        // Queue 2, namespace 1: two 4 KiB writes.
        await queue2.WriteAsync(256, Nvme.RandomBytes(4096, 5));
        await queue2.WriteAsync(264, Nvme.RandomBytes(4096, 6));

        var registry = _target.Services.GetRequiredService<SubsystemRegistry>();
        var subsystem = registry.Find(Nqn)!;
        var ns1 = subsystem.FindNamespace(1)!.Statistics.Snapshot();
        var ns2 = subsystem.FindNamespace(2)!.Statistics.Snapshot();
        var queues = StatisticsReader.IoQueues(subsystem).Where(q => q.Controller.Id == controller.ControllerId).ToDictionary(q => q.Queue.QueueId, q => q.Statistics.Snapshot());
        Assert.Equal([1, 2], queues.Keys.Order().Select(id => (int)id));

        AssertCounts(ns1, reads: 3, writes: 6, others: 1, bytesRead: 8192, bytesWritten: (5 * 4096) + 32768, errors: 1);
        AssertCounts(ns2, reads: 1, writes: 1, others: 0, bytesRead: 8192, bytesWritten: 4096, errors: 0);
        // Queue 1 is namespace 1 less queue 2's writes, plus namespace 2, plus the read of namespace 99.
        AssertCounts(queues[1], reads: 5, writes: 5, others: 1, bytesRead: 16384, bytesWritten: (4 * 4096) + 32768, errors: 2);
        AssertCounts(queues[2], reads: 0, writes: 2, others: 0, bytesRead: 0, bytesWritten: 8192, errors: 0);

        // The control plane answers with the same figures.
        using var channel = ControlPlaneChannel.Create(new ControlPlaneClientOptions(new Uri($"http://127.0.0.1:{_controlPlanePort}")));
        var stats = new Stats.StatsClient(channel);
        var response = await stats.GetStatsAsync(new GetStatsRequest { SubsystemNqn = Nqn }).ResponseAsync.Within();
        Assert.Equal([1u, 2u], response.Namespaces.Select(n => n.NamespaceId));
        Assert.All(response.Namespaces, n => Assert.Equal(Nqn, n.SubsystemNqn));
        Assert.Equal("stats-file", response.Namespaces[0].Volume);
        AssertSame(ns1, response.Namespaces[0].Counters);
        AssertSame(ns2, response.Namespaces[1].Counters);
        var answered = response.Queues.Where(q => q.ControllerId == controller.ControllerId).ToList();
        Assert.Equal([1u, 2u], answered.Select(q => q.QueueId));
        AssertSame(queues[1], answered[0].Counters);
        AssertSame(queues[2], answered[1].Counters);

        var everything = await stats.GetStatsAsync(new GetStatsRequest()).ResponseAsync.Within();
        Assert.Equal(2, everything.Namespaces.Count);

        // When the queues close, the namespaces keep what they counted; the queues leave the answer.
        await controller.DisposeAsync();
        var closed = await WaitForAsync(async () =>
        {
            var after = await stats.GetStatsAsync(new GetStatsRequest { SubsystemNqn = Nqn }).ResponseAsync.Within();
            return after.Queues.Count == 0 ? after : null;
        });
        AssertSame(ns1, closed.Namespaces[0].Counters);
        AssertSame(ns2, closed.Namespaces[1].Counters);
        AssertCounts(subsystem.FindNamespace(1)!.Statistics.Snapshot(), reads: 3, writes: 6, others: 1, bytesRead: 8192, bytesWritten: (5 * 4096) + 32768, errors: 1);
    }

    [Fact]
    public async Task GetStats_of_an_unknown_subsystem_is_not_found()
    {
        using var channel = ControlPlaneChannel.Create(new ControlPlaneClientOptions(new Uri($"http://127.0.0.1:{_controlPlanePort}")));
        var failure = await Assert.ThrowsAsync<RpcException>(() => new Stats.StatsClient(channel).GetStatsAsync(new GetStatsRequest { SubsystemNqn = "nqn.2026-11.io.novastor:none" }).ResponseAsync.Within());
        Assert.Equal(StatusCode.NotFound, failure.StatusCode);
        Assert.Contains("nqn.2026-11.io.novastor:none", failure.Status.Detail, StringComparison.Ordinal);
    }

    private static void AssertCounts(IoTotals totals, long reads, long writes, long others, long bytesRead, long bytesWritten, long errors)
    {
        Assert.Equal(reads, totals.ReadCommands);
        Assert.Equal(writes, totals.WriteCommands);
        Assert.Equal(others, totals.OtherCommands);
        Assert.Equal(bytesRead, totals.BytesRead);
        Assert.Equal(bytesWritten, totals.BytesWritten);
        Assert.Equal(errors, totals.Errors);
        // Every command has its latency counted once, and took some time.
        Assert.Equal(reads + writes + others, totals.Commands);
        Assert.True(totals.Commands == 0 || totals.LatencyTicks > 0, "latency sum is zero");
    }

    private static void AssertSame(IoTotals expected, NovaStor.ControlPlane.V1.IoCounters actual)
    {
        Assert.Equal((ulong)expected.ReadCommands, actual.ReadCommands);
        Assert.Equal((ulong)expected.WriteCommands, actual.WriteCommands);
        Assert.Equal((ulong)expected.OtherCommands, actual.OtherCommands);
        Assert.Equal((ulong)expected.BytesRead, actual.BytesRead);
        Assert.Equal((ulong)expected.BytesWritten, actual.BytesWritten);
        Assert.Equal((ulong)expected.Errors, actual.Errors);
        Assert.Equal(LatencyBuckets.Count, actual.Latency.UpperBoundsUs.Count);
        Assert.Equal(1.0, actual.Latency.UpperBoundsUs[0]);
        Assert.Equal(1 << 20, actual.Latency.UpperBoundsUs[^1]);
        Assert.Equal(expected.Latency[..LatencyBuckets.Count].Select(c => (ulong)c), actual.Latency.Counts);
        Assert.Equal((ulong)expected.Latency[LatencyBuckets.Overflow], actual.Latency.Overflow);
        Assert.Equal(expected.LatencySumMicroseconds, actual.Latency.SumUs, 6);
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe)
        where T : class
    {
        var deadline = DateTime.UtcNow + Bounded.Limit;
        while (true)
        {
            if (await probe() is { } result)
            {
                return result;
            }

            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(20);
        }
    }
}
