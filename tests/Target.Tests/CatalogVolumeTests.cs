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
    public async Task A_striped_namespace_spreads_chunks_over_its_drives_and_keeps_its_data()
    {
        string secondDrive = Path.Combine(Path.GetTempPath(), "novastor-test-drive-" + Guid.NewGuid().ToString("N"));
        try
        {
            string[] args = [.. Namespace("striped", 64L << 20, 4096, stripeWidth: 2), "--NovaStor:Drives:0:Id=second", $"--NovaStor:Drives:0:Path={secondDrive}"];
            await using var target = await RunningTarget.StartAsync(args);
            // 12 MiB from 1 MiB in: every 4 MiB chunk boundary inside is crossed by one 128 KiB write.
            var data = Nvme.RandomBytes(12 << 20, 3);
            await using (var controller = await HostController.ConnectAsync(target.EndPoint, Nqn, HostIdentity.Create()).Within())
            {
                var queue = await controller.ConnectIoQueueAsync(1).Within();
                for (int offset = 0; offset < data.Length; offset += 128 * 1024)
                {
                    await queue.WriteAsync((ulong)((1 << 20) + offset) / 4096, data[offset..(offset + (128 * 1024))], blockSize: 4096);
                }
            }

            // straw2 over two equal drives: a dozen 4 MiB chunks almost surely land on both.
            Assert.True(AllocationMap.AllocatedBytes(Path.Combine(target.DataDirectory, "striped.img")) > 0, "nothing landed on the first drive");
            Assert.True(AllocationMap.AllocatedBytes(Path.Combine(secondDrive, "striped.img")) > 0, "nothing landed on the second drive");

            await target.StopAsync().Within();
            await target.StartAgainAsync().Within();
            await using (var controller = await HostController.ConnectAsync(target.EndPoint, Nqn, HostIdentity.Create()).Within())
            {
                var queue = await controller.ConnectIoQueueAsync(1).Within();
                for (int offset = 0; offset < data.Length; offset += 128 * 1024)
                {
                    Assert.Equal(data[offset..(offset + (128 * 1024))], await queue.ReadAsync((ulong)((1 << 20) + offset) / 4096, 128 * 1024, blockSize: 4096));
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
