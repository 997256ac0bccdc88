using System.Net;
using NovaStor.ControlPlane.V1;
using NovaStor.Initiator;
using Xunit;
using static NovaStor.Target.Tests.ControlPlane.ControlPlaneTarget;

namespace NovaStor.Target.Tests.ControlPlane;

/// <summary>What the control plane created comes back exactly after a restart, before any host can connect.</summary>
public sealed class RestartTests : IAsyncLifetime
{
    private const string Nqn = "nqn.2026-12.io.novastor.test:restart";
    private ControlPlaneTarget _node = null!;

    public async Task InitializeAsync() => _node = await StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Volumes_subsystems_hosts_listeners_and_ana_states_survive_a_restart_with_the_data()
    {
        var host = HostIdentity.Create();
        int extraPort = RunningTarget.FreePort();
        await _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "keep-1", SizeBytes = 16 << 20 }, deadline: Deadline);
        await _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "keep-2", SizeBytes = 8 << 20, BlockSize = 4096 }, deadline: Deadline);
        var create = new CreateSubsystemRequest { Nqn = Nqn, SerialNumber = "KEEP1", ModelNumber = "Kept" };
        create.AllowedHosts.Add(host.HostNqn);
        await _node.Subsystems.CreateSubsystemAsync(create, deadline: Deadline);
        await _node.Subsystems.AddNamespaceAsync(new AddNamespaceRequest { SubsystemNqn = Nqn, Volume = "keep-1", NamespaceId = 2 }, deadline: Deadline);
        await _node.Subsystems.AddNamespaceAsync(new AddNamespaceRequest { SubsystemNqn = Nqn, Volume = "keep-2", NamespaceId = 5, AnaGroup = 3 }, deadline: Deadline);
        var listener = await _node.Listeners.AddListenerAsync(new AddListenerRequest { Address = "127.0.0.1", Port = (uint)extraPort }, deadline: Deadline);
        await _node.Listeners.SetAnaStateAsync(new SetAnaStateRequest { PortId = listener.PortId, Group = 3, State = NovaStor.ControlPlane.V1.AnaState.NonOptimized }, deadline: Deadline);
        await _node.Listeners.SetAnaStateAsync(new SetAnaStateRequest { PortId = 1, Group = 3, State = NovaStor.ControlPlane.V1.AnaState.Inaccessible }, deadline: Deadline);

        var data = Nvme.RandomBytes(64 * 1024, 11);
        await using (var controller = await HostController.ConnectAsync(_node.Target.EndPoint, Nqn, host).Within())
        {
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            await queue.WriteAsync(2048, data, namespaceId: 2);
        }

        var before = await _node.Subsystems.GetSubsystemAsync(new GetSubsystemRequest { Nqn = Nqn }, deadline: Deadline);
        var listenersBefore = await _node.Listeners.ListListenersAsync(new ListListenersRequest(), deadline: Deadline);
        await _node.StopAsync();
        await _node.StartAgainAsync();

        var after = await _node.Subsystems.GetSubsystemAsync(new GetSubsystemRequest { Nqn = Nqn }, deadline: Deadline);
        after.Controllers.Clear();
        before.Controllers.Clear();
        Assert.Equal(before, after); // NQN, serial, model, hosts, namespaces with their NGUID/UUID and ANA groups
        Assert.Equal(listenersBefore, await _node.Listeners.ListListenersAsync(new ListListenersRequest(), deadline: Deadline));

        // Through the listener added over the control plane, now bound at start: data intact, group 3 non-optimized there.
        await using (var controller = await HostController.ConnectAsync(new IPEndPoint(IPAddress.Loopback, extraPort), Nqn, host).Within())
        {
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            Assert.Equal(data, await queue.ReadAsync(2048, data.Length, namespaceId: 2));
            Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.Read(5, 0, 1), dataIn: new byte[4096]));
        }

        // Group 3 stays inaccessible on the configured port.
        await using (var controller = await HostController.ConnectAsync(_node.Target.EndPoint, Nqn, host).Within())
        {
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.Read(5, 0, 1), dataIn: new byte[4096]), 3, 0x02, doNotRetry: false);
        }

        // The change map was saved by the clean stop: complete, with the written regions.
        var changes = await _node.Volumes.GetChangedRegionsAsync(new GetChangedRegionsRequest { Name = "keep-1" }, deadline: Deadline);
        Assert.True(changes.Complete);
        Assert.Equal(1UL, changes.ChangedRegionCount); // 64 KiB at byte 1 MiB: one region
        var cleared = await _node.Volumes.ClearChangedRegionsAsync(new GetChangedRegionsRequest { Name = "keep-1" }, deadline: Deadline);
        Assert.Equal(1UL, cleared.ChangedRegionCount);
        Assert.Equal(0UL, (await _node.Volumes.GetChangedRegionsAsync(new GetChangedRegionsRequest { Name = "keep-1" }, deadline: Deadline)).ChangedRegionCount);
    }

    [Fact]
    public async Task A_damaged_exports_file_stops_start_up_naming_it()
    {
        await _node.StopAsync();
        string path = Path.Combine(_node.Target.DataDirectory, "exports.json");
        await File.WriteAllTextAsync(path, "{ \"version\": 1, \"subsystems\": [ { \"nqn\": \"bogus\" } ], \"listeners\": [], \"anaStates\": [] }");
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => _node.StartAgainAsync());
        Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        Assert.Contains("not an NQN", refused.Message, StringComparison.Ordinal);
        await File.WriteAllTextAsync(path, "{ not json");
        refused = await Assert.ThrowsAsync<InvalidOperationException>(() => _node.StartAgainAsync());
        Assert.Contains("not a valid exports file", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_namespace_whose_volume_left_the_catalog_is_dropped_at_start_up()
    {
        await _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "gone", SizeBytes = 8 << 20 }, deadline: Deadline);
        await _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "stays", SizeBytes = 8 << 20 }, deadline: Deadline);
        await _node.Subsystems.CreateSubsystemAsync(new CreateSubsystemRequest { Nqn = Nqn, AllowAnyHost = true }, deadline: Deadline);
        await _node.Subsystems.AddNamespaceAsync(new AddNamespaceRequest { SubsystemNqn = Nqn, Volume = "gone" }, deadline: Deadline);
        await _node.Subsystems.AddNamespaceAsync(new AddNamespaceRequest { SubsystemNqn = Nqn, Volume = "stays" }, deadline: Deadline);
        await _node.StopAsync();

        // What a forced delete killed after the catalog's commit leaves: the catalog without the volume, exports with it.
        var catalog = NovaStor.BlockEngine.Volumes.VolumeManager.Open(_node.Target.DataDirectory, [("data", _node.Target.DataDirectory)]);
        catalog.Delete("gone");
        await _node.StartAgainAsync();

        var subsystem = await _node.Subsystems.GetSubsystemAsync(new GetSubsystemRequest { Nqn = Nqn }, deadline: Deadline);
        Assert.Equal(["stays"], subsystem.Namespaces.Select(n => n.Volume));
        Assert.DoesNotContain("\"gone\"", await File.ReadAllTextAsync(Path.Combine(_node.Target.DataDirectory, "exports.json")), StringComparison.Ordinal);
    }
}
