using NovaStor.Initiator;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Target.Tests;

/// <summary>
/// Steady-state I/O through the target allocates nothing, on either transport: the target and the
/// managed initiator in this one process (inline completions), a memory namespace, 4 KiB reads and
/// in-capsule writes at QD 32 and 128 KiB R2T writes at QD 8, measured process-wide
/// (<see cref="GC.GetTotalAllocatedBytes(bool)"/>), so every thread of both sides counts (Kestrel's
/// socket transport included). The test's own tasks add a few KiB per round.
/// </summary>
[Collection(nameof(TimingSensitive))]
public sealed class AllocationTests(ITestOutputHelper output)
{
    /// <summary>
    /// The io_uring engine runs the reactor transport: under 1 B per I/O. The fallback engine runs
    /// Kestrel's sockets and pipes with the volume on the thread pool: an object per command would
    /// cost at least 24 B per I/O, and what shows there (0.3 to 1.7 B here) comes and goes with the
    /// thread pool's queue segments and Kestrel's pooled senders, so its bound is 4 B.
    /// </summary>
    [Theory]
    [InlineData("IoUring", "4 KiB read", 32, 4096, false, 20_000, 1.0)]
    [InlineData("IoUring", "4 KiB in-capsule write", 32, 4096, true, 20_000, 1.0)]
    [InlineData("IoUring", "128 KiB write by R2T", 8, 128 * 1024, true, 16_000, 1.0)]
    [InlineData("Fallback", "4 KiB read", 32, 4096, false, 20_000, 4.0)]
    [InlineData("Fallback", "4 KiB in-capsule write", 32, 4096, true, 20_000, 4.0)]
    [InlineData("Fallback", "128 KiB write by R2T", 8, 128 * 1024, true, 16_000, 4.0)]
    public async Task Io_allocates_no_object_per_command_on_either_transport(string engine, string what, int depth, int size, bool write, int ios, double bound)
    {
        double best = await MeasureAsync(what, depth, size, write, ios, $"--NovaStor:Engine={engine}");
        Assert.True(best < bound, $"{best:0.###} bytes allocated per {what} at QD {depth} (engine {engine}), target and initiator together; bound {bound} B");
    }

    private async Task<double> MeasureAsync(string what, int depth, int size, bool write, int ios, params string[] arguments)
    {
        await using var target = await RunningTarget.StartAsync([
            .. arguments,
            "--NovaStor:Subsystems:0:Nqn=" + RunningTarget.DefaultNqn,
            "--NovaStor:Subsystems:0:AllowAnyHost=true",
            "--NovaStor:Subsystems:0:Namespaces:0:Volume=allocation",
            "--NovaStor:Subsystems:0:Namespaces:0:Backend=Memory",
            "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=268435456",
            "--NovaStor:Subsystems:0:Namespaces:0:BlockSize=4096"]);
        var options = new NvmeConnectionOptions { KeepAliveTimeout = TimeSpan.Zero, InlineCompletions = true, QueueDepth = depth + 1 };
        await using var controller = await NvmeController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, options).Within();
        var buffers = Enumerable.Range(0, depth).Select(i => Nvme.RandomBytes(size, i)).ToArray();
        return await AllocationMeasure.BestBytesPerIoAsync(controller.Namespace(1), buffers, ios, write, line => output.WriteLine($"{what} ({string.Join(' ', arguments)}), {line}"));
    }
}
