using System.Buffers.Binary;
using NovaStor.BlockEngine.Volumes;
using NovaStor.Initiator;
using NovaStor.Protocol;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// The namespace backends besides files (NamespaceOptions.Backend): Memory keeps what is written
/// until the target stops, Null keeps nothing and reads zeroes, both are reported as what they
/// are (not thin), and configurations that cannot mean anything are refused at start-up.
/// </summary>
public sealed class NamespaceBackendTests
{
    private const string Nqn = "nqn.2026-11.io.novastor:backend-test";
    private const int BlockSize = 4096;

    private static string[] Namespace(string backend, long sizeBytes, params string[] more) =>
    [
        $"--NovaStor:Subsystems:0:Nqn={Nqn}",
        "--NovaStor:Subsystems:0:AllowAnyHost=true",
        "--NovaStor:Subsystems:0:Namespaces:0:Id=1",
        $"--NovaStor:Subsystems:0:Namespaces:0:Volume={backend.ToLowerInvariant()}-scratch",
        $"--NovaStor:Subsystems:0:Namespaces:0:Backend={backend}",
        $"--NovaStor:Subsystems:0:Namespaces:0:SizeBytes={sizeBytes}",
        $"--NovaStor:Subsystems:0:Namespaces:0:BlockSize={BlockSize}",
        .. more.Select(setting => $"--NovaStor:Subsystems:0:Namespaces:0:{setting}"),
    ];

    private static async Task<(ulong Nsze, ulong Nuse, byte Nsfeat, int LbaShift)> IdentifyAsync(HostController controller)
    {
        byte[] ns = await controller.IdentifyAsync(IdentifyCns.Namespace, 1).Within();
        // LBA format 0 starts at byte 128; its LBADS is the third byte.
        return (BinaryPrimitives.ReadUInt64LittleEndian(ns), BinaryPrimitives.ReadUInt64LittleEndian(ns.AsSpan(16)), ns[24], ns[130]);
    }

    [Fact]
    public async Task A_memory_namespace_reads_back_what_was_written_until_the_target_stops()
    {
        const long Size = 64L << 20;
        await using var target = await RunningTarget.StartAsync(Namespace("Memory", Size));
        var small = Nvme.RandomBytes(BlockSize, 1);        // in the command capsule
        var large = Nvme.RandomBytes(128 * 1024, 2);       // R2T and H2CData
        await using (var controller = await HostController.ConnectAsync(target.EndPoint, Nqn, HostIdentity.Create()).Within())
        {
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            await queue.WriteAsync(10, small, blockSize: BlockSize);
            await queue.WriteAsync((Size / BlockSize) - 32, large, blockSize: BlockSize); // the very end
            Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.Flush(1)));

            Assert.Equal(small, await queue.ReadAsync(10, small.Length, blockSize: BlockSize));
            Assert.Equal(large, await queue.ReadAsync((Size / BlockSize) - 32, large.Length, blockSize: BlockSize));
            Assert.Equal(new byte[BlockSize], await queue.ReadAsync(11, BlockSize, blockSize: BlockSize));

            // Memory is not thin: every block is there, so NUSE is the size and the thin bit is clear.
            var (nsze, nuse, nsfeat, lbaShift) = await IdentifyAsync(controller);
            Assert.Equal((ulong)(Size / BlockSize), nsze);
            Assert.Equal(nsze, nuse);
            Assert.Equal(0, nsfeat & IdentifyNamespaceBits.NsfeatThinProvisioning);
            Assert.Equal(12, lbaShift);
        }

        // Nothing went to the data folder: no catalog volume, no file.
        Assert.Empty(VolumeManager.Open(target.DataDirectory, [("data", target.DataDirectory)]).List());
        Assert.Empty(Directory.GetFiles(target.DataDirectory, "*.img", SearchOption.AllDirectories));

        await target.StopAsync().Within();
        await target.StartAgainAsync().Within();
        await using (var controller = await HostController.ConnectAsync(target.EndPoint, Nqn, HostIdentity.Create()).Within())
        {
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            Assert.Equal(new byte[BlockSize], await queue.ReadAsync(10, BlockSize, blockSize: BlockSize));
        }
    }

    [Fact]
    public async Task A_null_namespace_of_any_size_takes_writes_and_reads_zeroes()
    {
        const long Size = 1L << 40; // 1 TiB: nothing is allocated per byte of a Null namespace
        await using var target = await RunningTarget.StartAsync(Namespace("Null", Size));
        await using var controller = await HostController.ConnectAsync(target.EndPoint, Nqn, HostIdentity.Create()).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();

        await queue.WriteAsync(5, Nvme.RandomBytes(BlockSize, 3), blockSize: BlockSize);
        await queue.WriteAsync(1_000_000, Nvme.RandomBytes(64 * 1024, 4), blockSize: BlockSize);
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.Flush(1)));

        Assert.Equal(new byte[BlockSize], await queue.ReadAsync(5, BlockSize, blockSize: BlockSize));
        Assert.Equal(new byte[64 * 1024], await queue.ReadAsync(1_000_000, 64 * 1024, blockSize: BlockSize));
        var (nsze, nuse, nsfeat, _) = await IdentifyAsync(controller);
        Assert.Equal((ulong)(Size / BlockSize), nsze);
        Assert.Equal(nsze, nuse);
        Assert.Equal(0, nsfeat & IdentifyNamespaceBits.NsfeatThinProvisioning);
    }

    [Fact]
    public async Task The_file_backend_named_in_any_case_is_the_catalog_volume_as_before()
    {
        await using var target = await RunningTarget.StartAsync(Namespace("file", 16L << 20));
        var record = Assert.Single(VolumeManager.Open(target.DataDirectory, [("data", target.DataDirectory)]).List());
        Assert.Equal(("file-scratch", 16L << 20, BlockSize), (record.Name, record.SizeBytes, record.BlockSize));
    }

    public static TheoryData<string, long, string, string> Refused => new()
    {
        { "Memory", 16L << 20, "Path=scratch.img", "namespace 1: Path is for the File backend; a Memory namespace has no file" },
        { "Null", 16L << 20, "Path=/dev/null", "namespace 1: Path is for the File backend; a Null namespace has no file" },
        { "Memory", 16L << 20, "StripeWidth=2", "namespace 1: StripeWidth is for catalog volumes; a Memory namespace is not striped" },
        { "Ram", 16L << 20, "Id=1", "namespace 1: Backend 'Ram' is unknown; use File (the default), Memory or Null." },
        { "1", 16L << 20, "Id=1", "namespace 1: Backend '1' is unknown; use File (the default), Memory or Null." },
        { "Memory", 1L << 52, "Id=1", "namespace 1: a Memory namespace of 4503599627370496 bytes does not fit" },
        { "Memory", 4096 + 512, "Id=1", "namespace 1: SizeBytes 4608 must be a positive multiple of 4096." },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_configuration_that_cannot_mean_anything_stops_start_up_with_one_line_saying_why(string backend, long sizeBytes, string setting, string expected)
    {
        var target = RunningTarget.Create(Namespace(backend, sizeBytes, setting));
        await using var _ = target;

        // Program turns InvalidOperationException into one line on stderr and exit code 2.
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => target.StartAgainAsync());

        Assert.Contains($"Subsystem {Nqn}, {expected}", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure.Message);
    }
}
