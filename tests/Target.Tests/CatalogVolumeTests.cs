using Microsoft.Win32.SafeHandles;
using NovaStor.BlockEngine.Allocation;
using NovaStor.BlockEngine.Volumes;
using NovaStor.Initiator;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// Namespaces served from the volume catalog: created on first start, kept across restarts,
/// striped over drives, a volume file of the previous version adopted with its data, and a
/// corrupt catalog refusing start-up without being touched.
/// </summary>
public sealed class CatalogVolumeTests
{
    private const string Nqn = "nqn.2026-11.io.novastor:catalog-test";

    private static string[] Namespace(string volume, long sizeBytes, int blockSize = 512, int stripeWidth = 1) =>
    [
        $"--NovaStor:Subsystems:0:Nqn={Nqn}",
        "--NovaStor:Subsystems:0:AllowAnyHost=true",
        $"--NovaStor:Subsystems:0:Namespaces:0:Volume={volume}",
        $"--NovaStor:Subsystems:0:Namespaces:0:SizeBytes={sizeBytes}",
        $"--NovaStor:Subsystems:0:Namespaces:0:BlockSize={blockSize}",
        $"--NovaStor:Subsystems:0:Namespaces:0:StripeWidth={stripeWidth}",
    ];

    [Fact]
    public async Task The_default_volume_is_created_in_the_catalog_thin_and_kept_across_restarts()
    {
        await using var target = await RunningTarget.StartAsync();
        var manager = VolumeManager.Open(target.DataDirectory, [("data", target.DataDirectory)]);
        var record = Assert.Single(manager.List());
        Assert.Equal(("default", 1L << 30, 512), (record.Name, record.SizeBytes, record.BlockSize));
        Assert.Equal(0, AllocationMap.AllocatedBytes(Path.Combine(target.DataDirectory, "default.img")));

        var data = Nvme.RandomBytes(8192, 1);
        await using (var controller = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within())
        {
            await (await controller.ConnectIoQueueAsync(1).Within()).WriteAsync(77, data);
        }

        await target.StopAsync().Within();
        await target.StartAgainAsync().Within();
        await using (var controller = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within())
        {
            Assert.Equal(data, await (await controller.ConnectIoQueueAsync(1).Within()).ReadAsync(77, data.Length));
        }

        Assert.Single(VolumeManager.Open(target.DataDirectory, [("data", target.DataDirectory)]).List());
    }

    [Fact]
    public async Task A_volume_file_of_the_previous_version_is_adopted_with_its_data()
    {
        var old = Nvme.RandomBytes(4096, 2);
        await using var target = await RunningTarget.StartAsync(directory =>
        {
            using SafeFileHandle file = File.OpenHandle(Path.Combine(directory, "default.img"), FileMode.CreateNew, FileAccess.ReadWrite);
            RandomAccess.SetLength(file, 1L << 30);
            RandomAccess.Write(file, old, 512L * 123);
        });

        await using var controller = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        Assert.Equal(old, await (await controller.ConnectIoQueueAsync(1).Within()).ReadAsync(123, old.Length));
        var record = Assert.Single(VolumeManager.Open(target.DataDirectory, [("data", target.DataDirectory)]).List());
        Assert.Equal("default", record.Name);
    }

    [Fact]
    public async Task A_corrupt_catalog_stops_start_up_with_its_path_and_is_left_as_it_is()
    {
        byte[] garbage = "{ \"version\": 2, \"drives\": [ oops"u8.ToArray();
        var target = RunningTarget.Create();
        await using var _ = target;
        string catalog = Path.Combine(target.DataDirectory, VolumeCatalog.FileName);
        await File.WriteAllBytesAsync(catalog, garbage);

        var failure = await Assert.ThrowsAsync<CatalogCorruptException>(() => target.StartAgainAsync());

        Assert.Contains(catalog, failure.Message, StringComparison.Ordinal);
        Assert.Equal(garbage, await File.ReadAllBytesAsync(catalog));
    }

    [Fact]
    public async Task A_striped_namespace_puts_each_chunk_on_its_drive_and_keeps_its_data()
    {
        const int Chunk = 4 << 20;
        const int Piece = 128 * 1024;
        string secondDrive = Path.Combine(Path.GetTempPath(), "novastor-test-drive-" + Guid.NewGuid().ToString("N"));
        try
        {
            string[] args = [.. Namespace("striped", 64L << 20, 4096, stripeWidth: 2), "--NovaStor:Drives:0:Id=second", $"--NovaStor:Drives:0:Path={secondDrive}"];
            await using var target = await RunningTarget.StartAsync(args);
            // One piece inside each of the 16 chunks, and one across each chunk boundary.
            long[] offsets = [.. Enumerable.Range(0, 16).Select(c => ((long)c * Chunk) + (1 << 20)),
                .. Enumerable.Range(1, 15).Select(c => ((long)c * Chunk) - (Piece / 2))];
            byte[][] pieces = [.. offsets.Select((_, i) => Nvme.RandomBytes(Piece, 100 + i))];
            await using (var controller = await HostController.ConnectAsync(target.EndPoint, Nqn, HostIdentity.Create()).Within())
            {
                var queue = await controller.ConnectIoQueueAsync(1).Within();
                for (int i = 0; i < offsets.Length; i++)
                {
                    await queue.WriteAsync((ulong)(offsets[i] / 4096), pieces[i], blockSize: 4096);
                }

                Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.Flush(1)));
            }

            // Each chunk's piece is in the file of the drive straw2 picks for it, and only there.
            await target.StopAsync().Within();
            var record = VolumeManager.Open(target.DataDirectory, [("data", target.DataDirectory), ("second", secondDrive)]).Find("striped")!;
            ulong[] ids = [.. record.Stripe.Select(m => Straw2.StableId(m.Drive))];
            double[] weights = [.. record.Stripe.Select(m => m.Weight)];
            var files = record.Stripe.Select(m => Path.Combine(m.Drive == "data" ? target.DataDirectory : secondDrive, "striped.img")).ToArray();
            for (int c = 0; c < 16; c++)
            {
                int owner = Straw2.Select(Straw2.ChunkKey(record.Id, c), ids, weights);
                long at = ((long)c * Chunk) + (1 << 20);
                Assert.NotEmpty(AllocationMap.DataExtents(files[owner], at, at + Piece));
                Assert.Empty(AllocationMap.DataExtents(files[1 - owner], at, at + Piece));
            }

            await target.StartAgainAsync().Within();
            await using (var controller = await HostController.ConnectAsync(target.EndPoint, Nqn, HostIdentity.Create()).Within())
            {
                var queue = await controller.ConnectIoQueueAsync(1).Within();
                for (int i = 0; i < offsets.Length; i++)
                {
                    Assert.Equal(pieces[i], await queue.ReadAsync((ulong)(offsets[i] / 4096), Piece, blockSize: 4096));
                }
            }
        }
        finally
        {
            Directory.Delete(secondDrive, recursive: true);
        }
    }

    [Fact]
    public async Task The_catalog_wins_over_a_configured_size_that_differs()
    {
        await using var target = await RunningTarget.StartAsync(Namespace("sized", 32L << 20, 4096));
        await target.StopAsync().Within();
        await target.StartAgainAsync($"--NovaStor:Subsystems:0:Namespaces:0:SizeBytes={64L << 20}").Within();

        await using var controller = await HostController.ConnectAsync(target.EndPoint, Nqn, HostIdentity.Create()).Within();
        var ns = await controller.IdentifyAsync(NovaStor.Protocol.IdentifyCns.Namespace, 1).Within();
        Assert.Equal((32UL << 20) / 4096, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(ns));
    }
}
