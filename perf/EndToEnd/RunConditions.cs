using System.Runtime.InteropServices;

namespace NovaStor.EndToEnd;

/// <summary>What a run of the rung ran on and how, for the table's header and the JSON artifact.</summary>
internal sealed record RunConditions(
    string Kernel,
    string DotNet,
    int Processors,
    string? FioVersion,
    string? FileSystem,
    long FileBytes,
    long? MemoryBytes,
    double RuntimeSeconds,
    double RampSeconds,
    int Repeats,
    int Queues)
{
    public static RunConditions Of(Options options, string? fioVersion, string? fileSystem) => new(
        File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
        RuntimeInformation.FrameworkDescription,
        Environment.ProcessorCount,
        fioVersion,
        fileSystem,
        options.SizeBytes,
        options.MemoryRows ? options.MemoryBytes : null,
        options.Runtime.TotalSeconds,
        options.Ramp.TotalSeconds,
        options.Repeats,
        options.Queues);
}
