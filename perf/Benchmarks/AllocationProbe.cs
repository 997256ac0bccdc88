namespace NovaStor.Benchmarks;

/// <summary>
/// A quick check outside BenchmarkDotNet (<c>-- --probe</c>): runs the queue benchmark's batches
/// many times and prints the process-wide bytes allocated per command, to find allocations fast.
/// </summary>
internal static class AllocationProbe
{
    public static void Run()
    {
        foreach (string transport in (string[])["Pipes", "Reactor"])
        {
            Console.WriteLine($"transport {transport}:");
            Run(new TargetQueueBenchmarks { Transport = transport });
        }
    }

    private static void Run(TargetQueueBenchmarks bench)
    {
        bench.Setup();
        try
        {
            Measure("Read4K", bench.Read4K, TargetQueueBenchmarks.Depth);
            Measure("Read4KCompletedByData", bench.Read4KCompletedByData, TargetQueueBenchmarks.Depth);
            Measure("Write4KInCapsule", bench.Write4KInCapsule, TargetQueueBenchmarks.Depth);
            Measure("Write16KByR2T", bench.Write16KByR2T, TargetQueueBenchmarks.R2TDepth);
        }
        finally
        {
            bench.Cleanup();
        }
    }

    private static void Measure(string name, Action batch, int commandsPerBatch)
    {
        const int Batches = 2000;
        for (int i = 0; i < 200; i++)
        {
            batch();
        }

        GC.Collect();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        long thread = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Batches; i++)
        {
            batch();
        }

        long threadAllocated = GC.GetAllocatedBytesForCurrentThread() - thread;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        double commands = (double)Batches * commandsPerBatch;
        Console.WriteLine($"{name}: {allocated / commands:F2} B/command process-wide ({allocated} B over {commands} commands), {threadAllocated / commands:F2} B/command on the benchmark thread");
    }
}
