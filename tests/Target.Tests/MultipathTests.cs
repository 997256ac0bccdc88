using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using NovaStor.Initiator;
using NovaStor.Initiator.Discovery;
using NovaStor.Protocol;
using NovaStor.Target.Hosting;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// Two listeners (ports) serving one subsystem, with ANA groups whose state differs per port: what a
/// multipath host reads from discovery and the ANA log, the ANA change event, the path statuses of
/// an inaccessible group, and a listener stopped while the other serves.
/// </summary>
public sealed class MultipathTests : IAsyncLifetime
{
    private readonly int _secondPort = RunningTarget.FreePort();
    private RunningTarget _target = null!;

    private IPEndPoint Second => new(IPAddress.Loopback, _secondPort);

    public async Task InitializeAsync()
    {
        var target = RunningTarget.Create();
        // Port 1 (the fixture's) and port 2; namespace 2 is in ANA group 2, non-optimized on port 2.
        await target.StartAgainAsync(
            "--NovaStor:Listeners:0:Port=" + target.Port,
            "--NovaStor:Listeners:1:Port=" + _secondPort,
            "--NovaStor:Listeners:1:AnaStates:2=NonOptimized",
            "--NovaStor:Subsystems:0:Nqn=" + RunningTarget.DefaultNqn,
            "--NovaStor:Subsystems:0:AllowAnyHost=true",
            "--NovaStor:Subsystems:0:Namespaces:0:Volume=one",
            "--NovaStor:Subsystems:0:Namespaces:0:Backend=Memory",
            "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=16777216",
            "--NovaStor:Subsystems:0:Namespaces:1:Volume=two",
            "--NovaStor:Subsystems:0:Namespaces:1:Backend=Memory",
            "--NovaStor:Subsystems:0:Namespaces:1:SizeBytes=16777216",
            "--NovaStor:Subsystems:0:Namespaces:1:AnaGroup=2");
        _target = target;
    }

    public async Task DisposeAsync() => await _target.DisposeAsync();

    private ListenerControl Control => _target.Services.GetRequiredService<ListenerControl>();

    [Fact]
    public async Task Discovery_lists_the_subsystem_on_every_port_and_identify_reports_multiport_ana()
    {
        var log = await NvmeDiscovery.GetLogPageAsync(_target.EndPoint).Within();
        var paths = log.Records.Where(r => r.IsNvmSubsystem && r.SubsystemNqn == RunningTarget.DefaultNqn).OrderBy(r => r.PortId).ToArray();
        Assert.Equal(2, paths.Length);
        Assert.Equal((ushort)1, paths[0].PortId);
        Assert.Equal(_target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), paths[0].ServiceId);
        Assert.Equal((ushort)2, paths[1].PortId);
        Assert.Equal(_secondPort.ToString(System.Globalization.CultureInfo.InvariantCulture), paths[1].ServiceId);
        Assert.All(paths, p => Assert.Equal("127.0.0.1", p.Address));

        await using var controller = await HostController.ConnectAsync(Second, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var id = await controller.IdentifyAsync(IdentifyCns.Controller).Within();
        Assert.Equal(0x0B, id[76]);                                                 // CMIC: multi-port, multi-controller, ANA
        Assert.Equal(0x0F, id[343] & 0x1F);                                         // ANACAP: optimized .. persistent loss
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(344))); // ANAGRPMAX
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(348))); // NANAGRPID
        var ns2 = await controller.IdentifyAsync(IdentifyCns.Namespace, 2).Within();
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(ns2.AsSpan(92))); // ANAGRPID
    }

    [Fact]
    public async Task Each_port_reports_its_own_ana_states_and_both_serve_io()
    {
        await using var first = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        await using var second = await HostController.ConnectAsync(Second, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        Assert.Equal(new[] { (1u, AnaState.Optimized), (2u, AnaState.Optimized) }, await GroupStatesAsync(first));
        Assert.Equal(new[] { (1u, AnaState.Optimized), (2u, AnaState.NonOptimized) }, await GroupStatesAsync(second));

        var queue = await second.ConnectIoQueueAsync(1).Within();
        var data = Nvme.RandomBytes(4096, 3);
        await queue.WriteAsync(16, data, namespaceId: 2);
        var firstQueue = await first.ConnectIoQueueAsync(1).Within();
        Assert.Equal(data, await firstQueue.ReadAsync(16, 4096, namespaceId: 2));
    }

    [Fact]
    public async Task An_inaccessible_group_fails_io_with_a_retryable_path_status_and_the_port_gets_the_ana_event()
    {
        await using var second = await HostController.ConnectAsync(Second, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        await using var first = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        // The ANA change notice is sent to hosts that enabled it (AEC bit 11), as the Linux host does.
        Nvme.AssertSuccess(await second.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.AsyncEventConfiguration, 1u << 11)));
        Nvme.AssertSuccess(await first.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.AsyncEventConfiguration, 1u << 11)));
        var event2 = second.Admin.SubmitAsync(new SubmissionQueueEntry { Opcode = AdminOpcode.AsyncEventRequest });
        var event1 = first.Admin.SubmitAsync(new SubmissionQueueEntry { Opcode = AdminOpcode.AsyncEventRequest });
        var queue = await second.ConnectIoQueueAsync(1).Within();
        var before = await first.LogPageAsync(LogPageIdentifiers.Ana, 4096).Within();

        Assert.True(Control.SetAnaState(2, 1, AnaState.Inaccessible));
        Assert.False(Control.SetAnaState(2, 1, AnaState.Inaccessible)); // no change, no event

        var completion = await event2.Within();
        Assert.Equal(0x2u | (0x03u << 8) | (0x0Cu << 16), completion.Dw0); // notice, ANA change, log 0Ch
        Assert.False(event1.IsCompleted, "a controller on the other port got the ANA event");
        Assert.Equal(new[] { (1u, AnaState.Inaccessible), (2u, AnaState.NonOptimized) }, await GroupStatesAsync(second));
        var after = await first.LogPageAsync(LogPageIdentifiers.Ana, 4096).Within();
        Assert.True(BinaryPrimitives.ReadUInt64LittleEndian(after) > BinaryPrimitives.ReadUInt64LittleEndian(before), "CHGCNT did not grow");

        // Namespace 1 (group 1) on port 2: Asymmetric Access Inaccessible, SCT 3, without DNR so the host retries elsewhere.
        var read = await queue.ExecuteAsync(NvmeCommands.Read(1, 0, 1), dataIn: new byte[512]);
        Assert.Equal(StatusCodeType.PathRelated, read.Status.CodeType);
        Assert.Equal(0x02, read.Status.Code);
        Assert.False(read.Status.DoNotRetry);
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.Read(2, 0, 1), dataIn: new byte[512])); // group 2 still serves

        Control.SetAnaState(2, 1, AnaState.PersistentLoss);
        Assert.Equal(0x01, (await queue.ExecuteAsync(NvmeCommands.Read(1, 0, 1), dataIn: new byte[512])).Status.Code);
        Control.SetAnaState(2, 1, AnaState.Optimized);
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.Read(1, 0, 1), dataIn: new byte[512]));
    }

    [Fact]
    public async Task A_stopped_listener_refuses_connections_and_drops_its_controllers_while_the_other_serves()
    {
        await using var first = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var second = await HostController.ConnectAsync(Second, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var secondQueue = await second.ConnectIoQueueAsync(1).Within();
        ulong generationBefore = (await NvmeDiscovery.GetLogPageAsync(_target.EndPoint).Within()).Generation;
        var firstQueue = await first.ConnectIoQueueAsync(1).Within();

        await Control.StopListenerAsync(2).Within();

        await Nvme.ClosedWithAsync(secondQueue);
        await second.DisposeAsync();
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => HostController.ConnectAsync(Second, RunningTarget.DefaultNqn, HostIdentity.Create()).Within());
        Assert.True(Chain(refused).Any(e => e is SocketException { SocketErrorCode: SocketError.ConnectionRefused }), $"not refused: {refused}");
        var data = Nvme.RandomBytes(512, 9);
        await firstQueue.WriteAsync(40, data);
        Assert.Equal(data, await firstQueue.ReadAsync(40, 512));

        var log = await NvmeDiscovery.GetLogPageAsync(_target.EndPoint).Within();
        var path = Assert.Single(log.Records, r => r.IsNvmSubsystem);
        Assert.Equal((ushort)1, path.PortId);
        Assert.True(log.Generation > generationBefore, "the discovery log changed but its generation counter did not");
    }

    [Theory]
    [InlineData("--NovaStor:Listeners:1:AnaStates:1=Sleeping", "is not an ANA state")]
    [InlineData("--NovaStor:Listeners:1:AnaStates:40=Optimized", "is not an ANA group id")]
    [InlineData("--NovaStor:Listeners:1:Address=localhost", "is not an IP address")]
    [InlineData("--NovaStor:Subsystems:0:Nqn=nqn.2026-12.io.novastor:ana --NovaStor:Subsystems:0:AllowAnyHost=true --NovaStor:Subsystems:0:Namespaces:0:Volume=v --NovaStor:Subsystems:0:Namespaces:0:Backend=Memory --NovaStor:Subsystems:0:Namespaces:0:AnaGroup=33", "AnaGroup 33 is outside 1..32")]
    public async Task A_bad_listener_or_ana_setting_stops_start_up_with_a_message_naming_it(string settings, string message)
    {
        var target = RunningTarget.Create(["--NovaStor:Listeners:0:Port=" + RunningTarget.FreePort(), "--NovaStor:Listeners:1:Port=" + RunningTarget.FreePort(), .. settings.Split(' ')]);
        await using (target)
        {
            var failure = await Assert.ThrowsAnyAsync<Exception>(() => target.StartAgainAsync());
            Assert.Contains(message, failure.ToString(), StringComparison.Ordinal);
        }
    }

    private static IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }

    private static async Task<(uint Group, AnaState State)[]> GroupStatesAsync(HostController controller)
    {
        var log = await controller.LogPageAsync(LogPageIdentifiers.Ana, 4096).Within();
        int groups = BinaryPrimitives.ReadUInt16LittleEndian(log.AsSpan(8));
        var result = new (uint, AnaState)[groups];
        int at = AnaLog.HeaderSize;
        for (int i = 0; i < groups; i++)
        {
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(at));
            uint nsids = BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(at + 4));
            result[i] = (id, (AnaState)(log[at + 16] & 0xF));
            at += AnaLog.GroupDescriptorSize + (4 * (int)nsids);
        }

        return result;
    }
}
