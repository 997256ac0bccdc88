using Xunit;
using System.Diagnostics;
using System.Text;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>What survives stopping the target and starting it again on the same folder and port.</summary>
public sealed class PersistenceTests : IAsyncLifetime
{
    private RunningTarget _target = null!;

    public async Task InitializeAsync() => _target = await RunningTarget.StartAsync();

    public async Task DisposeAsync() => await _target.DisposeAsync();

    [Fact]
    public async Task Data_serial_number_and_nguid_survive_a_restart()
    {
        var host = HostIdentity.Create();
        var flushed = Nvme.RandomBytes(65536, 700);
        var fua = Nvme.RandomBytes(4096, 701);
        var unflushed = Nvme.RandomBytes(8192, 702);
        byte[] serial, nguid;
        await using (var controller = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, host).Within())
        {
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            await queue.WriteAsync(1_000, flushed);
            Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.Flush(1)));
            await queue.WriteAsync(2_000, fua, forceUnitAccess: true);
            await queue.WriteAsync(2_097_151 - 15, unflushed); // the very end of the namespace
            serial = (await controller.IdentifyAsync(IdentifyCns.Controller).Within())[4..24];
            nguid = (await controller.IdentifyAsync(IdentifyCns.Namespace, 1).Within())[104..120];
        }

        await _target.StopAsync().Within();
        await _target.StartAgainAsync().Within();

        await using (var controller = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, host).Within())
        {
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            Assert.Equal(flushed, await queue.ReadAsync(1_000, flushed.Length));
            Assert.Equal(fua, await queue.ReadAsync(2_000, fua.Length));
            Assert.Equal(unflushed, await queue.ReadAsync(2_097_151 - 15, unflushed.Length));
            Assert.Equal(new byte[4096], await queue.ReadAsync(3_000, 4096)); // never written: zeroes

            var id = await controller.IdentifyAsync(IdentifyCns.Controller).Within();
            Assert.Equal(Encoding.ASCII.GetString(serial), Encoding.ASCII.GetString(id, 4, 20));
            Assert.Equal(nguid, (await controller.IdentifyAsync(IdentifyCns.Namespace, 1).Within())[104..120]);
        }
    }

    [Fact]
    public async Task Stopping_with_hosts_connected_closes_their_queues_promptly_and_keeps_the_data()
    {
        var data = Nvme.RandomBytes(32768, 710);
        await using var controller = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        await queue.WriteAsync(4_000, data);

        var clock = Stopwatch.StartNew();
        await _target.StopAsync().Within(TimeSpan.FromSeconds(10));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stopping took {clock.Elapsed} with a host connected");
        await Nvme.ClosedWithAsync(queue, TimeSpan.FromSeconds(5));
        await Nvme.ClosedWithAsync(controller.Admin, TimeSpan.FromSeconds(5));

        await _target.StartAgainAsync().Within();
        await using var again = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var queueAgain = await again.ConnectIoQueueAsync(1).Within();
        Assert.Equal(data, await queueAgain.ReadAsync(4_000, data.Length));
    }
}
