using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// Steady-state I/O allocates nothing. Completions run on pool threads, so the whole process
/// is measured (<see cref="GC.GetTotalAllocatedBytes(bool)"/>); the target runs in a child
/// process so that only the initiator is counted.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class AllocationTests(ITestOutputHelper output)
{
    private const int Depth = 32, Reads = 20_000, Rounds = 3;

    [Fact]
    public async Task Reads_at_queue_depth_32_allocate_less_than_one_byte_each()
    {
        await using var target = await ExternalTarget.StartAsync().WaitAsync(TimeSpan.FromSeconds(40));
        await using var controller = await NvmeController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, new NvmeConnectionOptions { KeepAliveTimeout = TimeSpan.Zero }).Within();
        var ns = controller.Namespace(1);
        var buffers = Enumerable.Range(0, Depth).Select(_ => new byte[4096]).ToArray();

        // Warm-up: pools, pipe segments, pooled state machines, tier-1 JIT (which recompiles in
        // the background after its call counts; give it a moment before measuring).
        await RunAsync(ns, buffers, 2 * Reads);
        await Task.Delay(500);
        await RunAsync(ns, buffers, Reads);
        double best = double.MaxValue;
        for (int round = 0; round < Rounds; round++)
        {
            long before = GC.GetTotalAllocatedBytes(true);
            await RunAsync(ns, buffers, Reads);
            long allocated = GC.GetTotalAllocatedBytes(true) - before;
            double perIo = (double)allocated / Reads;
            output.WriteLine($"round {round}: {allocated} bytes over {Reads} reads = {perIo:0.###} B/IO");
            best = Math.Min(best, perIo);
        }

        output.WriteLine($"best: {best:0.###} B/IO");

        Assert.True(best < 1.0, $"{best:0.###} bytes allocated per 4 KiB read at QD {Depth}");
    }

    private static async Task RunAsync(NvmeNamespace ns, byte[][] buffers, int total)
    {
        var workers = new Task[buffers.Length];
        int perWorker = total / buffers.Length;
        for (int w = 0; w < workers.Length; w++)
        {
            workers[w] = WorkerAsync(ns, buffers[w], (ulong)w * 8, perWorker);
        }

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(120));
    }

    private static async Task WorkerAsync(NvmeNamespace ns, byte[] buffer, ulong block, int count)
    {
        await Task.Yield();
        for (int i = 0; i < count; i++)
        {
            var result = await ns.ReadAsync(block, buffer);
            if (!result.IsSuccess)
            {
                throw new InvalidOperationException($"Read failed: {result}");
            }
        }
    }
}
