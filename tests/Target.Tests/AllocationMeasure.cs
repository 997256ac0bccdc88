using NovaStor.Initiator;

namespace NovaStor.Target.Tests;

/// <summary>
/// Bytes allocated per I/O in steady state, process-wide (<see cref="GC.GetTotalAllocatedBytes(bool)"/>):
/// one worker per buffer keeps one I/O in flight, after a warm-up (pools, pooled state machines,
/// tier-1 JIT, which recompiles in the background: given a moment); the best of three rounds.
/// Shared by the target's and the initiator's allocation tests (linked into both projects).
/// </summary>
internal static class AllocationMeasure
{
    private const int Rounds = 3;

    public static async Task<double> BestBytesPerIoAsync(NvmeNamespace ns, byte[][] buffers, int ios, bool write, Action<string> log)
    {
        await RunAsync(ns, buffers, 2 * ios, write);
        await Task.Delay(500);
        await RunAsync(ns, buffers, ios, write);
        double best = double.MaxValue;
        for (int round = 0; round < Rounds; round++)
        {
            long before = GC.GetTotalAllocatedBytes(true);
            await RunAsync(ns, buffers, ios, write);
            long allocated = GC.GetTotalAllocatedBytes(true) - before;
            double perIo = (double)allocated / ios;
            log($"round {round}: {allocated} bytes over {ios} I/Os = {perIo:0.###} B/IO");
            best = Math.Min(best, perIo);
        }

        log($"best: {best:0.###} B/IO");
        return best;
    }

    private static async Task RunAsync(NvmeNamespace ns, byte[][] buffers, int total, bool write)
    {
        var workers = new Task[buffers.Length];
        int perWorker = total / buffers.Length;
        ulong blocksPerIo = (ulong)(buffers[0].Length / ns.BlockSize);
        for (int w = 0; w < workers.Length; w++)
        {
            workers[w] = WorkerAsync(ns, buffers[w], (ulong)w * blocksPerIo, perWorker, write);
        }

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(120));
    }

    private static async Task WorkerAsync(NvmeNamespace ns, byte[] buffer, ulong block, int count, bool write)
    {
        await Task.Yield();
        for (int i = 0; i < count; i++)
        {
            var result = write ? await ns.WriteAsync(block, buffer) : await ns.ReadAsync(block, buffer);
            if (!result.IsSuccess)
            {
                throw new InvalidOperationException($"{(write ? "Write" : "Read")} failed: {result}");
            }
        }
    }
}
