using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>Every namespace command through the library, over each transport variant.</summary>
public sealed class NamespaceCommandTests(SharedTarget shared) : IClassFixture<SharedTarget>
{
    [Theory]
    [InlineData(false, false, 1, int.MaxValue, 0)]
    [InlineData(true, false, 1, int.MaxValue, 1)]
    [InlineData(false, true, 1, int.MaxValue, 2)]
    [InlineData(true, true, 8, int.MaxValue, 3)]
    [InlineData(false, false, 8, 0, 4)]         // every write by R2T
    [InlineData(true, true, 1, 0, 5)]
    public async Task Every_command_reads_back_as_expected(bool headerDigest, bool dataDigest, int ioQueues, int inCapsuleLimit, int lane)
    {
        var options = new NvmeConnectionOptions { HeaderDigest = headerDigest, DataDigest = dataDigest, IoQueues = ioQueues, InCapsuleDataLimit = inCapsuleLimit };
        await using var controller = await Support.ConnectAsync(shared.Target, options);
        Assert.Equal(ioQueues, controller.IoQueueCount);
        var ns = controller.Namespace(1);
        Assert.Equal(512, ns.BlockSize);
        await CommandExercise.RunAsync(ns, 1000 + ((ulong)lane * 256), lane);
    }

    [Theory]
    [InlineData(false, false, false, 6)]
    [InlineData(true, true, true, 7)]
    public async Task Every_command_reads_back_as_expected_on_the_portable_path(bool digests, bool inlineCompletions, bool byR2T, int lane)
    {
        var options = new NvmeConnectionOptions { Transport = HostQueueTransport.Portable, HeaderDigest = digests, DataDigest = digests, InlineCompletions = inlineCompletions, InCapsuleDataLimit = byR2T ? 0 : int.MaxValue, IoQueues = 2 };
        await using var controller = await Support.ConnectAsync(shared.Target, options);
        var ns = controller.Namespace(1);
        await CommandExercise.RunAsync(ns, 1000 + ((ulong)lane * 256), lane);
    }

    [Fact]
    public async Task Identify_and_namespace_scan_describe_the_target()
    {
        await using var controller = await Support.ConnectAsync(shared.Target);
        Assert.Equal(RunningTarget.DefaultNqn, controller.Info.SubsystemNqn);
        Assert.NotEqual(0, controller.Info.MaxDataTransferShift);
        Assert.Equal(4096 << controller.Info.MaxDataTransferShift, controller.MaxTransferBytes);
        var ns = Assert.Single(controller.Namespaces);
        Assert.Equal(1u, ns.Id);
        Assert.Equal((1UL << 30) / 512, ns.BlockCount);
        Assert.Equal(16, ns.Info.Nguid.Length);
        await controller.RescanAsync().Within();
        Assert.Same(ns, controller.Namespace(1));
        Assert.Throws<KeyNotFoundException>(() => controller.Namespace(2));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    public async Task Transfers_beyond_mdts_are_split_and_read_back(int mdtsMultiple)
    {
        await using var controller = await Support.ConnectAsync(shared.Target, new NvmeConnectionOptions { IoQueues = 2 });
        var ns = controller.Namespace(1);
        int length = (controller.MaxTransferBytes * mdtsMultiple) + (mdtsMultiple > 1 ? 4096 : 0);
        ulong first = 100_000 + ((ulong)mdtsMultiple * 8192);
        var data = Support.RandomBytes(length, mdtsMultiple);
        Support.AssertSuccess(await ns.WriteAsync(first, data).Within(), "large Write");
        var back = new byte[length];
        Support.AssertSuccess(await ns.ReadAsync(first, back).Within(), "large Read");
        Assert.Equal(data, back);
        Support.AssertSuccess(await ns.CompareAsync(first, data).Within(), "large Compare");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 32)]
    [InlineData(8, 128)]
    [InlineData(1, 128)]
    public async Task Many_commands_in_flight_each_read_back_their_own_data(int ioQueues, int depth)
    {
        await using var controller = await Support.ConnectAsync(shared.Target, new NvmeConnectionOptions { IoQueues = ioQueues, QueueDepth = 128 });
        var ns = controller.Namespace(1);
        ulong baseBlock = 200_000 + ((ulong)(ioQueues * 1000 + depth) * 64);
        const int rounds = 4;
        var workers = new Task[depth];
        for (int w = 0; w < depth; w++)
        {
            int worker = w;
            workers[w] = Task.Run(async () =>
            {
                var data = new byte[4096];
                var back = new byte[4096];
                for (int round = 0; round < rounds; round++)
                {
                    ulong block = baseBlock + ((ulong)worker * 8);
                    new Random((worker * 100) + round).NextBytes(data);
                    Support.AssertSuccess(await ns.WriteAsync(block, data), "Write");
                    Support.AssertSuccess(await ns.ReadAsync(block, back), "Read");
                    Assert.Equal(data, back);
                }
            });
        }

        await Task.WhenAll(workers).Within();
    }

    [Fact]
    public async Task More_submitters_than_slots_wait_for_a_slot()
    {
        await using var controller = await Support.ConnectAsync(shared.Target, new NvmeConnectionOptions { QueueDepth = 4 });
        var ns = controller.Namespace(1);
        var tasks = new Task<NvmeResult>[64];
        var buffers = new byte[64][];
        for (int i = 0; i < tasks.Length; i++)
        {
            buffers[i] = new byte[512];
            tasks[i] = ns.ReadAsync(300_000 + (ulong)i, buffers[i]).AsTask();
        }

        foreach (var result in await Task.WhenAll(tasks).Within())
        {
            Support.AssertSuccess(result, "Read");
        }
    }
}

/// <summary>The same commands on a 4096-byte-block namespace.</summary>
public sealed class FourKNamespaceTests : IAsyncLifetime
{
    private RunningTarget _target = null!;

    public async Task InitializeAsync() => _target = await RunningTarget.StartAsync(Support.FourKTarget);

    public async Task DisposeAsync() => await _target.DisposeAsync();

    [Theory]
    [InlineData(false, false, 1)]
    [InlineData(true, true, 8)]
    public async Task Every_command_reads_back_as_expected(bool headerDigest, bool dataDigest, int ioQueues)
    {
        var options = new NvmeConnectionOptions { HeaderDigest = headerDigest, DataDigest = dataDigest, IoQueues = ioQueues };
        await using var controller = await Support.ConnectAsync(_target, options, Support.FourKNqn);
        var ns = controller.Namespace(1);
        Assert.Equal(4096, ns.BlockSize);
        Assert.Equal(268435456UL / 4096, ns.BlockCount);
        await CommandExercise.RunAsync(ns, 1000 + (ulong)(ioQueues * 256), ioQueues);

        // Split at MDTS in 4 KiB blocks too.
        var data = Support.RandomBytes((controller.MaxTransferBytes * 2) + 4096, 9);
        Support.AssertSuccess(await ns.WriteAsync(20_000 + (ulong)ioQueues * 1000, data).Within(), "large Write");
        var back = new byte[data.Length];
        Support.AssertSuccess(await ns.ReadAsync(20_000 + (ulong)ioQueues * 1000, back).Within(), "large Read");
        Assert.Equal(data, back);
    }
}
