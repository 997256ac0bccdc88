using System.Diagnostics;
using NovaStor.Initiator;
using NovaStor.Initiator.Discovery;
using Xunit;

namespace NovaStor.Conformance.KernelTarget;

/// <summary>
/// The initiator library itself (NvmeDiscovery, NvmeController, NvmeNamespace: MDTS splitting,
/// in-capsule size from IOCCSZ, its own keep-alive timer) against the Linux kernel target, on the
/// same guest as the wire-level tests and in block ranges of its own (regions 11 to 14).
/// </summary>
public sealed partial class KernelTargetTests
{
    private NvmeConnectionOptions LibraryOptions(bool digests, TimeSpan? keepAlive = null) => new()
    {
        Host = _host,
        IoQueues = 2,
        HeaderDigest = digests,
        DataDigest = digests,
        KeepAliveTimeout = keepAlive ?? TimeSpan.FromSeconds(5),
    };

    [Fact]
    public async Task Library_discovery_lists_the_subsystem()
    {
        var log = await NvmeDiscovery.GetLogPageAsync(_guest.EndPoint, _host).WaitAsync(KernelTargetIo.Limit);
        var ours = Assert.Single(log.Subsystems, r => r.SubsystemNqn == _guest.SubsystemNqn);
        Assert.Equal("4420", ours.ServiceId);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Library_namespace_commands_round_trip_on_both_lba_sizes(bool digests)
    {
        await using var controller = await NvmeController.ConnectAsync(_guest.EndPoint, _guest.SubsystemNqn, LibraryOptions(digests)).WaitAsync(KernelTargetIo.Limit);
        Assert.Equal([1u, 2u], controller.Namespaces.Select(n => n.Id).Order());
        Assert.Equal(2, controller.IoQueueCount);

        foreach (var expected in _guest.Namespaces)
        {
            var ns = controller.Namespace(expected.Id);
            Assert.Equal((expected.BlockSize, expected.Blocks), (ns.BlockSize, ns.BlockCount));
            ulong first = Region(expected, digests ? 12 : 11);
            // One block; 12 KiB (in-capsule against this target, whose R2T stalls below 16 KiB);
            // 64 KiB (R2T); 3 MiB (above the transfer limit: split into several commands).
            ulong block = first;
            foreach (int length in (int[])[ns.BlockSize, 12 * 1024, 64 * 1024, 3 << 20])
            {
                var data = KernelTargetIo.RandomBytes(length, (int)(block % 1000) + (digests ? 1 : 0));
                (await ns.WriteAsync(block, data).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("write");
                var back = new byte[length];
                (await ns.ReadAsync(block, back).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("read");
                KernelTargetIo.AssertSameBytes(data, back, $"ns {ns.Id}: {length} bytes at block {block}");
                block += (ulong)(length / ns.BlockSize) + 1;
            }

            (await ns.FlushAsync().AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("flush");

            // Zero the middle of a written range two ways; the neighbours keep their bytes.
            ulong zeroes = Region(expected, 13) + (digests ? 64UL : 0UL);
            var ones = Enumerable.Repeat((byte)0xA5, ns.BlockSize * 24).ToArray();
            (await ns.WriteAsync(zeroes, ones).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("write");
            (await ns.WriteZeroesAsync(zeroes + 4, 4).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("write zeroes");
            (await ns.DeallocateAsync(zeroes + 12, 4).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("deallocate");
            var all = new byte[ones.Length];
            (await ns.ReadAsync(zeroes, all).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("read");
            for (int b = 0; b < 24; b++)
            {
                bool cleared = b is >= 4 and < 8 or >= 12 and < 16;
                byte want = cleared ? (byte)0 : (byte)0xA5;
                Assert.True(all.AsSpan(b * ns.BlockSize, ns.BlockSize).IndexOfAnyExcept(want) < 0, $"ns {ns.Id}: block {b} of the zeroing range is not {want:x2}");
            }
        }

        await controller.DisconnectAsync().WaitAsync(KernelTargetIo.Limit);
        Assert.Equal(NvmeControllerState.Closed, controller.State);
    }

    /// <summary>
    /// The novastor CLI against the Linux target: each command's exit code is its own (0), the
    /// association's end after CC.SHN being the normal end whichever side closes the connections.
    /// </summary>
    [Fact]
    public async Task Cli_commands_against_the_linux_target_exit_0_and_move_the_bytes()
    {
        var ns = _guest.Namespace(1);
        ulong block = Region(ns, 15);
        int blocks = 8192 / ns.BlockSize;
        string directory = Directory.CreateTempSubdirectory("novastor-cli-").FullName;
        try
        {
            var data = KernelTargetIo.RandomBytes(8192, 15);
            string input = Path.Combine(directory, "in"), output = Path.Combine(directory, "out");
            await File.WriteAllBytesAsync(input, data);
            string[] fabrics =
            [
                "-a", _guest.EndPoint.Address.ToString(), "-s", _guest.EndPoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-n", _guest.SubsystemNqn, "--hostnqn", _host.HostNqn, "--hostid", _host.HostId.ToString(),
            ];
            string first = block.ToString(System.Globalization.CultureInfo.InvariantCulture), count = blocks.ToString(System.Globalization.CultureInfo.InvariantCulture);
            foreach (string[] command in new[]
            {
                new[] { "id-ctrl" },
                ["write", "-S", first, "-c", count, "-d", input],
                ["read", "-S", first, "-c", count, "-d", output],
            })
            {
                using var stdout = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
                using var stderr = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
                int code = await NovaStor.Cli.Cli.RunAsync([command[0], .. fabrics, .. command[1..]], stdout, stderr).WaitAsync(KernelTargetIo.Limit);
                Assert.True(code == 0, $"novastor {command[0]} exited {code}:\n{stdout}\n{stderr}");
            }

            KernelTargetIo.AssertSameBytes(data, await File.ReadAllBytesAsync(output), "novastor write then read");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Library_keep_alive_timer_holds_an_idle_association()
    {
        await using var controller = await NvmeController.ConnectAsync(_guest.EndPoint, _guest.SubsystemNqn, LibraryOptions(false, TimeSpan.FromSeconds(5))).WaitAsync(KernelTargetIo.Limit);
        await Task.Delay(TimeSpan.FromSeconds(16)); // more than three keep-alive periods with no I/O

        Assert.Equal(NvmeControllerState.Live, controller.State);
        Assert.Equal(0, controller.Reconnects);
        var ns = controller.Namespace(1);
        var data = KernelTargetIo.RandomBytes(4096, 14);
        ulong block = Region(_guest.Namespace(1), 14);
        (await ns.WriteAsync(block, data).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("write after idle");
        var back = new byte[data.Length];
        (await ns.ReadAsync(block, back).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("read after idle");
        KernelTargetIo.AssertSameBytes(data, back, "after 16 s idle");
    }

    [Fact]
    public async Task Library_rescans_on_a_namespace_change_event()
    {
        await using var controller = await NvmeController.ConnectAsync(_guest.EndPoint, _guest.SubsystemNqn, LibraryOptions(false)).WaitAsync(KernelTargetIo.Limit);
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        controller.NamespacesChanged += (_, _) => changed.TrySetResult();

        // nvmet raises Namespace Attribute Changed (AER notice 02h, log 04h) for the disable and
        // again for the enable; the library reads the log and rescans each time.
        await _guest.ToggleNamespace2Async();
        await changed.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // After the toggle the namespace is back, and I/O to it works.
        var deadline = Stopwatch.StartNew();
        while (!controller.Namespaces.Any(n => n.Id == 2 && n.IsActive) && deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(200);
            await controller.RescanAsync().WaitAsync(KernelTargetIo.Limit);
        }

        var ns = controller.Namespace(2);
        Assert.True(ns.IsActive, "namespace 2 did not come back after the toggle");
        var data = KernelTargetIo.RandomBytes(ns.BlockSize, 15);
        ulong block = Region(_guest.Namespace(2), 14) + 8;
        (await ns.WriteAsync(block, data).AsTask().WaitAsync(KernelTargetIo.Limit)).ThrowIfFailed("write after the toggle");
        Assert.Equal(0, controller.Reconnects);
    }
}
