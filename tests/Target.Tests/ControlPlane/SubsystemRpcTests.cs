using System.Buffers.Binary;
using System.Net;
using Grpc.Core;
using NovaStor.ControlPlane.V1;
using NovaStor.Initiator;
using NovaStor.Initiator.Discovery;
using NovaStor.Protocol;
using Xunit;
using static NovaStor.Target.Tests.ControlPlane.ControlPlaneTarget;

namespace NovaStor.Target.Tests.ControlPlane;

public sealed class SubsystemRpcTests : IAsyncLifetime
{
    private const string Nqn = "nqn.2026-12.io.novastor.test:rpc";
    private ControlPlaneTarget _node = null!;
    private readonly HostIdentity _host = HostIdentity.Create();

    public async Task InitializeAsync() => _node = await StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private async Task CreateVolumeAsync(string name, ulong size = 16 << 20) =>
        await _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = name, SizeBytes = size }, deadline: Deadline);

    private async Task<NovaStor.ControlPlane.V1.Subsystem> CreateSubsystemAsync(string nqn = Nqn, params string[] hosts)
    {
        var request = new CreateSubsystemRequest { Nqn = nqn, SerialNumber = "SN-RPC-1", ModelNumber = "NovaStor test" };
        request.AllowedHosts.AddRange(hosts);
        return await _node.Subsystems.CreateSubsystemAsync(request, deadline: Deadline);
    }

    private async Task<NovaStor.ControlPlane.V1.Subsystem> AddNamespaceAsync(string volume, uint nsid = 0, string nqn = Nqn) =>
        await _node.Subsystems.AddNamespaceAsync(new AddNamespaceRequest { SubsystemNqn = nqn, Volume = volume, NamespaceId = nsid }, deadline: Deadline);

    private static async Task<uint> ArmNamespaceNoticeAsync(HostController controller)
    {
        Nvme.AssertSuccess(await controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.AsyncEventConfiguration, 1u << 8)));
        return 0;
    }

    private static async Task<uint[]> ChangedNamespacesAsync(HostController controller)
    {
        byte[] log = await controller.LogPageAsync(0x04, 4096);
        var ids = new List<uint>();
        for (int i = 0; i < 1024 && BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(4 * i)) is var id && id != 0; i++)
        {
            ids.Add(id);
        }

        return [.. ids];
    }

    [Fact]
    public async Task A_subsystem_created_over_grpc_serves_its_allowed_host_and_refuses_others()
    {
        await CreateVolumeAsync("data-1");
        var created = await CreateSubsystemAsync(Nqn, _host.HostNqn);
        Assert.False(created.Static);
        Assert.Equal([_host.HostNqn], created.AllowedHosts);
        var subsystem = await AddNamespaceAsync("data-1");
        Assert.Equal(1u, Assert.Single(subsystem.Namespaces).Id);

        await using var controller = await HostController.ConnectAsync(_node.Target.EndPoint, Nqn, _host).Within();
        var id = await controller.IdentifyAsync(IdentifyCns.Controller).Within();
        Assert.Equal("SN-RPC-1", System.Text.Encoding.ASCII.GetString(id, 4, 20).TrimEnd());
        Assert.Equal("NovaStor test", System.Text.Encoding.ASCII.GetString(id, 24, 40).TrimEnd());
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        var data = Nvme.RandomBytes(8192, 1);
        await queue.WriteAsync(100, data);
        Assert.Equal(data, await queue.ReadAsync(100, data.Length));

        var other = HostIdentity.Create();
        await Assert.ThrowsAnyAsync<Exception>(() => HostController.ConnectAsync(_node.Target.EndPoint, Nqn, other).Within());
        await _node.Subsystems.AddHostAsync(new HostRequest { SubsystemNqn = Nqn, HostNqn = other.HostNqn }, deadline: Deadline);
        await using (await HostController.ConnectAsync(_node.Target.EndPoint, Nqn, other).Within())
        {
        }

        var listed = await _node.Controllers.ListControllersAsync(new ListControllersRequest { SubsystemNqn = Nqn }, deadline: Deadline);
        var mine = Assert.Single(listed.Controllers);
        Assert.Equal(_host.HostNqn, mine.HostNqn);
        Assert.Equal(_host.HostId.ToString(), mine.HostId);
        Assert.Equal((uint)controller.ControllerId, mine.ControllerId);
        Assert.Equal(2u, mine.QueueCount);
        Assert.StartsWith("127.0.0.1", mine.RemoteAddress, StringComparison.Ordinal);
        Assert.InRange(mine.ConnectedSince.ToDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));

        // Removing a host with disconnect fences it: its controller goes, and it cannot come back.
        await _node.Subsystems.RemoveHostAsync(new HostRequest { SubsystemNqn = Nqn, HostNqn = _host.HostNqn, Disconnect = true }, deadline: Deadline);
        await Assert.ThrowsAnyAsync<Exception>(() => queue.ReadAsync(100, 512));
        await Assert.ThrowsAnyAsync<Exception>(() => HostController.ConnectAsync(_node.Target.EndPoint, Nqn, _host).Within());
    }

    [Fact]
    public async Task Namespaces_come_and_go_while_the_host_stays_connected_and_it_is_told()
    {
        await CreateVolumeAsync("ns-a");
        await CreateVolumeAsync("ns-b", 32 << 20);
        await CreateSubsystemAsync(Nqn, _host.HostNqn);
        await AddNamespaceAsync("ns-a");
        await using var controller = await HostController.ConnectAsync(_node.Target.EndPoint, Nqn, _host).Within();
        await ArmNamespaceNoticeAsync(controller);
        var notice = controller.Admin.SubmitAsync(new SubmissionQueueEntry { Opcode = AdminOpcode.AsyncEventRequest });
        var queue = await controller.ConnectIoQueueAsync(1).Within();

        var subsystem = await AddNamespaceAsync("ns-b", nsid: 7);
        Assert.Equal(new uint[] { 1, 7 }, subsystem.Namespaces.Select(n => n.Id));
        var completion = await notice.WaitAsync(Bounded.Limit);
        Assert.Equal(0x2u | (0x00u << 8) | (0x04u << 16), completion.Dw0); // notice, namespace attribute changed, log 04h
        Assert.Equal(new uint[] { 7 }, await ChangedNamespacesAsync(controller));
        Assert.Empty(await ChangedNamespacesAsync(controller)); // the read cleared it

        byte[] active = await controller.IdentifyAsync(IdentifyCns.ActiveNamespaceList).Within();
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(active.AsSpan(4)));
        var data = Nvme.RandomBytes(4096, 2);
        await queue.WriteAsync(0, data, namespaceId: 7);
        Assert.Equal(data, await queue.ReadAsync(0, data.Length, namespaceId: 7));

        await _node.Subsystems.RemoveNamespaceAsync(new RemoveNamespaceRequest { SubsystemNqn = Nqn, NamespaceId = 7 }, deadline: Deadline);
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.Read(7, 0, 8), dataIn: new byte[4096]), 0, 0x0B); // Invalid Namespace
        Assert.Equal(new uint[] { 7 }, await ChangedNamespacesAsync(controller));

        // The volume stays, and can be exported again with its data.
        await AddNamespaceAsync("ns-b", nsid: 3);
        Assert.Equal(data, await queue.ReadAsync(0, data.Length, namespaceId: 3));
    }

    [Fact]
    public async Task A_volume_grows_online_and_the_connected_host_sees_the_new_size()
    {
        await CreateVolumeAsync("grow", 8 << 20);
        await CreateSubsystemAsync(Nqn, _host.HostNqn);
        await AddNamespaceAsync("grow");
        await using var controller = await HostController.ConnectAsync(_node.Target.EndPoint, Nqn, _host).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        ulong oldBlocks = (8UL << 20) / 512;
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.Read(1, oldBlocks, 1), dataIn: new byte[512]), 0, 0x80); // LBA Out of Range

        var grown = await _node.Volumes.ResizeVolumeAsync(new ResizeVolumeRequest { Name = "grow", SizeBytes = 24 << 20 }, deadline: Deadline);
        Assert.Equal(24UL << 20, grown.SizeBytes);
        byte[] ns = await controller.IdentifyAsync(IdentifyCns.Namespace, 1).Within();
        Assert.Equal((24UL << 20) / 512, BinaryPrimitives.ReadUInt64LittleEndian(ns)); // NSZE
        Assert.Equal(new uint[] { 1 }, await ChangedNamespacesAsync(controller));

        var data = Nvme.RandomBytes(4096, 3);
        ulong last = ((24UL << 20) / 512) - 8;
        await queue.WriteAsync(last, data);
        Assert.Equal(data, await queue.ReadAsync(last, data.Length));
        var changes = await _node.Volumes.GetChangedRegionsAsync(new GetChangedRegionsRequest { Name = "grow" }, deadline: Deadline);
        Assert.True(changes.Complete);
        Assert.Equal(1UL, changes.ChangedRegionCount);
        long region = (long)(last * 512 / 65536);
        Assert.NotEqual(0, changes.Bitmap[(int)(region / 8)] & (1 << (int)(region % 8)));
    }

    [Fact]
    public async Task Bad_subsystem_requests_say_what_to_fix_and_change_nothing()
    {
        await CreateVolumeAsync("bad-1");
        await CreateVolumeAsync("bad-2");
        await RefusedAsync(StatusCode.InvalidArgument, "not an NQN", () => _node.Subsystems.CreateSubsystemAsync(new CreateSubsystemRequest { Nqn = "iqn.2026-12.wrong" }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "at most 223 bytes",
            () => _node.Subsystems.CreateSubsystemAsync(new CreateSubsystemRequest { Nqn = "nqn.2026-12.io.novastor:" + new string('x', 200) }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "discovery", () => _node.Subsystems.CreateSubsystemAsync(new CreateSubsystemRequest { Nqn = Nvme.DiscoveryNqn }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "serial number",
            () => _node.Subsystems.CreateSubsystemAsync(new CreateSubsystemRequest { Nqn = Nqn, SerialNumber = new string('9', 21) }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "Host NQN", () => CreateSubsystemAsync(Nqn, "not-a-host"));
        await CreateSubsystemAsync(Nqn, _host.HostNqn);
        await RefusedAsync(StatusCode.AlreadyExists, "exists", () => CreateSubsystemAsync(Nqn));
        await RefusedAsync(StatusCode.FailedPrecondition, "configuration file",
            () => _node.Subsystems.AddNamespaceAsync(new AddNamespaceRequest { SubsystemNqn = RunningTarget.DefaultNqn, Volume = "bad-1" }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.NotFound, "create it first", () => AddNamespaceAsync("missing"));
        await RefusedAsync(StatusCode.NotFound, "no subsystem", () => AddNamespaceAsync("bad-1", nqn: "nqn.2026-12.io.novastor.test:missing"));
        await RefusedAsync(StatusCode.InvalidArgument, "outside 1..1024", () => AddNamespaceAsync("bad-1", nsid: 5000));
        await AddNamespaceAsync("bad-1", nsid: 4);
        await RefusedAsync(StatusCode.AlreadyExists, "in use", () => AddNamespaceAsync("bad-2", nsid: 4));
        await RefusedAsync(StatusCode.AlreadyExists, "already exported", () => AddNamespaceAsync("bad-1", nsid: 5));
        await RefusedAsync(StatusCode.AlreadyExists, "already exported", () => AddNamespaceAsync("default", nsid: 5));
        await RefusedAsync(StatusCode.NotFound, "no namespace",
            () => _node.Subsystems.RemoveNamespaceAsync(new RemoveNamespaceRequest { SubsystemNqn = Nqn, NamespaceId = 9 }, deadline: Deadline).ResponseAsync);

        // An exported volume is not deleted unless forced; forced, its namespace goes with it.
        await RefusedAsync(StatusCode.FailedPrecondition, "namespace 4 of " + Nqn,
            () => _node.Volumes.DeleteVolumeAsync(new DeleteVolumeRequest { Name = "bad-1" }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.FailedPrecondition, "configuration file",
            () => _node.Volumes.DeleteVolumeAsync(new DeleteVolumeRequest { Name = "default", Force = true }, deadline: Deadline).ResponseAsync);
        await _node.Volumes.DeleteVolumeAsync(new DeleteVolumeRequest { Name = "bad-1", Force = true }, deadline: Deadline);
        var subsystem = await _node.Subsystems.GetSubsystemAsync(new GetSubsystemRequest { Nqn = Nqn }, deadline: Deadline);
        Assert.Empty(subsystem.Namespaces);
        Assert.Equal([_host.HostNqn], subsystem.AllowedHosts);

        // A subsystem with a connected host is not deleted unless forced.
        await AddNamespaceAsync("bad-2");
        var controller = await HostController.ConnectAsync(_node.Target.EndPoint, Nqn, _host).Within();
        await RefusedAsync(StatusCode.FailedPrecondition, "connected controller",
            () => _node.Subsystems.DeleteSubsystemAsync(new DeleteSubsystemRequest { Nqn = Nqn }, deadline: Deadline).ResponseAsync);
        await _node.Subsystems.DeleteSubsystemAsync(new DeleteSubsystemRequest { Nqn = Nqn, Force = true }, deadline: Deadline);
        await Assert.ThrowsAnyAsync<Exception>(() => controller.IdentifyAsync(IdentifyCns.Controller).Within());
        await controller.DisposeAsync();
        await RefusedAsync(StatusCode.NotFound, "no subsystem", () => _node.Subsystems.GetSubsystemAsync(new GetSubsystemRequest { Nqn = Nqn }, deadline: Deadline).ResponseAsync);
        Assert.NotNull(await _node.Volumes.GetVolumeAsync(new GetVolumeRequest { Name = "bad-2" }, deadline: Deadline)); // volumes stay
    }

    [Fact]
    public async Task A_controller_is_listed_and_disconnected()
    {
        await using var controller = await HostController.ConnectAsync(_node.Target.EndPoint, RunningTarget.DefaultNqn, _host).Within();
        var all = await _node.Controllers.ListControllersAsync(new ListControllersRequest(), deadline: Deadline);
        var listed = Assert.Single(all.Controllers, c => c.HostNqn == _host.HostNqn);
        Assert.Equal(RunningTarget.DefaultNqn, listed.SubsystemNqn);
        await _node.Controllers.DisconnectControllerAsync(new DisconnectControllerRequest { SubsystemNqn = RunningTarget.DefaultNqn, ControllerId = listed.ControllerId }, deadline: Deadline);
        await Assert.ThrowsAnyAsync<Exception>(() => controller.IdentifyAsync(IdentifyCns.Controller).Within());
        await RefusedAsync(StatusCode.NotFound, "no controller",
            () => _node.Controllers.DisconnectControllerAsync(new DisconnectControllerRequest { SubsystemNqn = RunningTarget.DefaultNqn, ControllerId = listed.ControllerId }, deadline: Deadline).ResponseAsync);
    }

    [Fact]
    public async Task Listeners_are_added_given_ana_states_and_removed()
    {
        int port = RunningTarget.FreePort();
        var added = await _node.Listeners.AddListenerAsync(new AddListenerRequest { Address = "127.0.0.1", Port = (uint)port }, deadline: Deadline);
        Assert.False(added.Static);
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var log = await NvmeDiscovery.GetLogPageAsync(endPoint).Within();
        Assert.Contains(log.Records, r => r.SubsystemNqn == RunningTarget.DefaultNqn && r.PortId == added.PortId);

        await using (var controller = await HostController.ConnectAsync(endPoint, RunningTarget.DefaultNqn, _host).Within())
        {
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            await _node.Listeners.SetAnaStateAsync(new SetAnaStateRequest { PortId = added.PortId, Group = 1, State = NovaStor.ControlPlane.V1.AnaState.Inaccessible }, deadline: Deadline);
            Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.Read(1, 0, 1), dataIn: new byte[512]), 3, 0x02, doNotRetry: false); // ANA inaccessible
            var listed = await _node.Listeners.ListListenersAsync(new ListListenersRequest(), deadline: Deadline);
            var state = Assert.Single(Assert.Single(listed.Listeners, l => l.PortId == added.PortId).AnaStates);
            Assert.Equal(NovaStor.ControlPlane.V1.AnaState.Inaccessible, state.State);
        }

        await RefusedAsync(StatusCode.AlreadyExists, "overlaps", () => _node.Listeners.AddListenerAsync(new AddListenerRequest { Address = "127.0.0.1", Port = (uint)port }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "not an IP address", () => _node.Listeners.AddListenerAsync(new AddListenerRequest { Address = "localhost", Port = 4420 }, deadline: Deadline).ResponseAsync);
        using (var squatter = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            squatter.Start();
            int taken = ((IPEndPoint)squatter.LocalEndpoint).Port;
            await RefusedAsync(StatusCode.FailedPrecondition, "Cannot listen", () => _node.Listeners.AddListenerAsync(new AddListenerRequest { Address = "127.0.0.1", Port = (uint)taken }, deadline: Deadline).ResponseAsync);
        }

        await RefusedAsync(StatusCode.FailedPrecondition, "configuration file", () => _node.Listeners.RemoveListenerAsync(new RemoveListenerRequest { PortId = 1 }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "ANA state", () => _node.Listeners.SetAnaStateAsync(new SetAnaStateRequest { PortId = 1, Group = 1 }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "outside 1..32", () => _node.Listeners.SetAnaStateAsync(new SetAnaStateRequest { PortId = 1, Group = 33, State = NovaStor.ControlPlane.V1.AnaState.Optimized }, deadline: Deadline).ResponseAsync);
        await _node.Listeners.RemoveListenerAsync(new RemoveListenerRequest { PortId = added.PortId }, deadline: Deadline);
        await Assert.ThrowsAnyAsync<Exception>(() => HostController.ConnectAsync(endPoint, RunningTarget.DefaultNqn, _host).Within());
        Assert.DoesNotContain((await _node.Listeners.ListListenersAsync(new ListListenersRequest(), deadline: Deadline)).Listeners, l => l.PortId == added.PortId);
    }

    [Fact]
    public async Task A_subsystem_linked_to_listeners_is_served_on_those_only_and_keeps_them_after_a_restart()
    {
        await CreateVolumeAsync("linked");
        await CreateSubsystemAsync(Nqn, _host.HostNqn);
        await AddNamespaceAsync("linked");
        int port = RunningTarget.FreePort();
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var linked = await _node.Subsystems.AddListenerAsync(new SubsystemListenerRequest { SubsystemNqn = Nqn, Address = "127.0.0.1", Port = (uint)port }, deadline: Deadline);
        Assert.False(linked.AllListeners);
        uint portId = Assert.Single(linked.ListenerPortIds);

        async Task AssertServedOnlyOnTheNewListenerAsync()
        {
            await Assert.ThrowsAnyAsync<Exception>(() => HostController.ConnectAsync(_node.Target.EndPoint, Nqn, _host).Within());
            await using (await HostController.ConnectAsync(endPoint, Nqn, _host).Within())
            {
            }

            var log = await NvmeDiscovery.GetLogPageAsync(_node.Target.EndPoint, _host).Within();
            Assert.Equal([(ushort)portId], log.Records.Where(r => r.SubsystemNqn == Nqn).Select(r => r.PortId));
            // The listener serves the other subsystems too: the default one is still on both.
            Assert.Equal(2, log.Records.Count(r => r.SubsystemNqn == RunningTarget.DefaultNqn));
        }

        await AssertServedOnlyOnTheNewListenerAsync();
        await _node.StopAsync();
        await _node.StartAgainAsync();
        await AssertServedOnlyOnTheNewListenerAsync();

        var controller = await HostController.ConnectAsync(endPoint, Nqn, _host).Within();
        var unlinked = await _node.Subsystems.RemoveListenerAsync(new SubsystemListenerRequest { SubsystemNqn = Nqn, Address = "127.0.0.1", Port = (uint)port }, deadline: Deadline);
        Assert.Empty(unlinked.ListenerPortIds);
        await Assert.ThrowsAnyAsync<Exception>(() => controller.IdentifyAsync(IdentifyCns.Controller).Within());
        await controller.DisposeAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => HostController.ConnectAsync(endPoint, Nqn, _host).Within());
        await using (await HostController.ConnectAsync(endPoint, RunningTarget.DefaultNqn, _host).Within())
        {
        }

        await RefusedAsync(StatusCode.NotFound, "not served", () => _node.Subsystems.RemoveListenerAsync(new SubsystemListenerRequest { SubsystemNqn = Nqn, Address = "127.0.0.1", Port = (uint)port }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.FailedPrecondition, "configuration file",
            () => _node.Subsystems.AddListenerAsync(new SubsystemListenerRequest { SubsystemNqn = RunningTarget.DefaultNqn, Address = "127.0.0.1", Port = (uint)port }, deadline: Deadline).ResponseAsync);
    }
}
