using BenchmarkDotNet.Running;

namespace NovaStor.Benchmarks;

/// <summary>
/// Entry point: <c>dotnet run -c Release --project perf/Benchmarks -- --filter '*' --job short</c>
/// (measured) or <c>--job dry</c> (smoke); <c>-- --probe</c> prints allocations per command
/// without BenchmarkDotNet. See perf/README.md.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        if (args is ["--probe"])
        {
            AllocationProbe.Run();
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
