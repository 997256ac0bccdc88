using NovaStor.Protocol;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// With inline completions a caller's continuation runs where the response was handled (the
/// queue's own thread on Linux) and may issue its next I/O from there: chains of writes and
/// reads keep going with no spare command slots, and every read returns what was written.
/// </summary>
public sealed class InlineCompletionTests(SharedTarget shared) : IClassFixture<SharedTarget>
{
    private const int Chains = 8, Rounds = 100;

    [Theory]
    [InlineData(HostQueueTransport.Automatic, 0)]
    [InlineData(HostQueueTransport.Portable, 1)]
    public async Task Continuations_issue_the_next_io_inline_and_read_back_their_data(HostQueueTransport transport, int lane)
    {
        // As many slots as chains: a continuation's next I/O needs the slot its last one just freed.
        var options = new NvmeConnectionOptions { Transport = transport, InlineCompletions = true, QueueDepth = Chains };
        await using var controller = await Support.ConnectAsync(shared.Target, options);
        var ns = controller.Namespace(1);
        int onQueueThread = 0;
        var chains = Enumerable.Range(0, Chains).Select(chain => Task.Run(async () =>
        {
            var data = new byte[4096];
            var back = new byte[4096];
            ulong block = 700_000 + ((ulong)lane * 10_000) + ((ulong)chain * 8);
            for (int round = 0; round < Rounds; round++)
            {
                new Random((chain * 1000) + round).NextBytes(data);
                Support.AssertSuccess(await ns.WriteAsync(block, data), "Write");
                if (IsQueueThread())
                {
                    Interlocked.Increment(ref onQueueThread);
                }

                Support.AssertSuccess(await ns.ReadAsync(block, back), "Read");
                Assert.True(back.AsSpan().SequenceEqual(data), $"chain {chain} round {round}: read differs from write");
            }
        })).ToArray();

        await Task.WhenAll(chains).WaitAsync(TimeSpan.FromSeconds(60));
        if (transport == HostQueueTransport.Automatic && OperatingSystem.IsLinux())
        {
            // The first await of each chain may complete before it suspends; nearly all the rest run on the queue thread.
            Assert.True(Volatile.Read(ref onQueueThread) > Chains * Rounds / 2, $"only {onQueueThread} of {Chains * Rounds} continuations ran on the queue thread");
        }
    }

    [Fact]
    public async Task Host_queue_continuations_reuse_the_slot_their_command_just_freed()
    {
        await using var controller = await HostController.ConnectAsync(shared.Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        await using var queue = await controller.ConnectIoQueueAsync(1, entries: 4, new HostQueueOptions { InlineCompletions = true }).Within();
        var chains = Enumerable.Range(0, 4).Select(chain => Task.Run(async () =>
        {
            var data = Support.RandomBytes(4096, chain);
            var back = new byte[4096];
            ulong block = 720_000 + ((ulong)chain * 8);
            for (int round = 0; round < Rounds; round++)
            {
                var written = await queue.IssueAsync(NvmeCommands.Write(1, block, 8), data);
                Assert.True(written.Status.IsSuccess, written.Status.ToString());
                var read = await queue.IssueAsync(NvmeCommands.Read(1, block, 8), default, back);
                Assert.True(read.Status.IsSuccess, read.Status.ToString());
                Assert.Equal(data, back);
            }
        })).ToArray();

        await Task.WhenAll(chains).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Null(queue.Failure);
    }

    private static bool IsQueueThread() => Thread.CurrentThread.Name?.StartsWith("novastor-host-q", StringComparison.Ordinal) == true;
}
