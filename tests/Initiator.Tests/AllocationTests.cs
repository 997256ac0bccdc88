using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// Steady-state I/O allocates nothing: 4 KiB reads at QD 32 (completions on the thread pool or
/// inline on the queue thread) and 128 KiB writes at QD 8 whose data goes by R2T and H2CData
/// from the caller's buffer. Completions run on other threads, so the whole process is measured (<see cref="GC.GetTotalAllocatedBytes(bool)"/>); the target runs in a child
/// process so that only the initiator is counted.
/// </summary>
[Collection(nameof(RunsAlone))]
public sealed class AllocationTests(ITestOutputHelper output)
{
    [Fact]
    public Task Reads_at_queue_depth_32_allocate_less_than_one_byte_each() =>
        MeasureAsync("4 KiB read", depth: 32, ios: 20_000, size: 4096, write: false, new NvmeConnectionOptions { KeepAliveTimeout = TimeSpan.Zero });

    [Fact]
    public Task Writes_of_128_KiB_by_r2t_at_queue_depth_8_allocate_less_than_one_byte_each() =>
        MeasureAsync("128 KiB write (R2T, H2CData from the caller's buffer)", depth: 8, ios: 16_000, size: 128 * 1024, write: true, new NvmeConnectionOptions { KeepAliveTimeout = TimeSpan.Zero });

    [Fact]
    public Task Reads_with_inline_completions_allocate_less_than_one_byte_each() =>
        MeasureAsync("4 KiB read, inline completions", depth: 32, ios: 20_000, size: 4096, write: false, new NvmeConnectionOptions { KeepAliveTimeout = TimeSpan.Zero, InlineCompletions = true });

    private async Task MeasureAsync(string what, int depth, int ios, int size, bool write, NvmeConnectionOptions options)
    {
        await using var target = await ExternalTarget.StartAsync().WaitAsync(TimeSpan.FromSeconds(40));
        await using var controller = await NvmeController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, options).Within();
        var buffers = Enumerable.Range(0, depth).Select(i => Support.RandomBytes(size, i)).ToArray();
        double best = await AllocationMeasure.BestBytesPerIoAsync(controller.Namespace(1), buffers, ios, write, line => output.WriteLine($"{what}, {line}"));
        Assert.True(best < 1.0, $"{best:0.###} bytes allocated per {what} at QD {depth}");
    }
}
