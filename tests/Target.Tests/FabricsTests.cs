using Xunit;
using System.Buffers.Binary;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>Fabrics: Connect and its failures, properties, enable, reset and shutdown.</summary>
public sealed class FabricsTests(SharedTarget shared) : IClassFixture<SharedTarget>
{
    private RunningTarget Target => shared.Target;

    private const uint ConfigurationEnabled = 1 | (6u << 4) | (6u << 16) | (4u << 20);

    [Fact]
    public async Task Connect_to_an_unknown_subsystem_is_invalid_parameters_pointing_at_subnqn()
    {
        var host = HostIdentity.Create();
        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();

        var completion = await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(host, 0xFFFF, "nqn.2026-11.io.novastor:no-such-subsystem"));

        Nvme.AssertStatus(completion, 1, 0x82);
        Assert.Equal(1u, completion.Dw0 >> 16);      // IATTR: the parameter is in the Connect data
        Assert.Equal(256u, completion.Dw0 & 0xFFFF); // IPO: SUBNQN
    }

    [Fact]
    public async Task A_failed_connect_leaves_the_queue_usable_and_a_second_connect_is_refused()
    {
        var host = HostIdentity.Create();
        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        Nvme.AssertStatus(await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(host, 0xFFFF, "nqn.2026-11.io.novastor:typo")), 1, 0x82);

        var connected = await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(host, 0xFFFF, RunningTarget.DefaultNqn));
        Nvme.AssertSuccess(connected);

        // One queue, one association: connecting it again is out of sequence.
        var again = await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(host, 0xFFFF, RunningTarget.DefaultNqn));
        Nvme.AssertStatus(again, 0, 0x0C);
        var status = await queue.ExecuteAsync(NvmeCommands.PropertyGet(ControllerProperties.Status, false));
        Nvme.AssertSuccess(status);
    }

    [Fact]
    public async Task Connect_with_sqsize_zero_is_invalid_parameters_on_admin_and_io_queues()
    {
        var host = HostIdentity.Create();
        await using var admin = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var completion = await admin.ConnectAsync(0, 0, Nvme.ConnectBytes(host, 0xFFFF, RunningTarget.DefaultNqn));
        Nvme.AssertStatus(completion, 1, 0x82);
        Assert.Equal(44u, completion.Dw0); // IATTR 0 (the command), IPO 44: SQSIZE

        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, host).Within();
        await using var io = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        completion = await io.ConnectAsync(1, 0, Nvme.ConnectBytes(host, controller.ControllerId, RunningTarget.DefaultNqn));
        Nvme.AssertStatus(completion, 1, 0x82);
        Assert.Equal(44u, completion.Dw0);

        // Deeper than CAP.MQES allows is refused too.
        await using var deep = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        Nvme.AssertStatus(await deep.ConnectAsync(1, 4095, Nvme.ConnectBytes(host, controller.ControllerId, RunningTarget.DefaultNqn)), 1, 0x82);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Connect_completions_say_whether_sq_flow_control_is_disabled(bool disable)
    {
        // TP 8005: a controller that honours CATTR bit 2 answers the Connect with SQHD FFFFh; the
        // initiator takes that as the controller's agreement, on the admin and on the I/O queue.
        var options = new HostQueueOptions { DisableSqFlowControl = disable };
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), options: options).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        Assert.Equal(disable, controller.Admin.SqFlowControlDisabled);
        Assert.Equal(disable, queue.SqFlowControlDisabled);

        // Later completions carry SQHD 0 where it is left out, and the running head otherwise.
        var flush = await queue.SubmitAsync(NvmeCommands.Flush(1)).Within();
        Nvme.AssertSuccess(flush);
        Assert.Equal(disable ? 0 : 2, flush.SubmissionQueueHead);
    }

    [Fact]
    public async Task Connect_with_a_nonzero_record_format_is_incompatible_format()
    {
        var host = HostIdentity.Create();
        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var command = NvmeCommands.Connect(0, 31, 0);
        command.Cdw10 |= 1;

        Nvme.AssertStatus(await queue.ExecuteAsync(command, Nvme.ConnectBytes(host, 0xFFFF, RunningTarget.DefaultNqn)), 1, 0x80);
    }

    [Fact]
    public async Task Io_queue_connect_with_a_wrong_cntlid_is_invalid_parameters()
    {
        var host = HostIdentity.Create();
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, host).Within();

        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var completion = await queue.ConnectAsync(1, 127, Nvme.ConnectBytes(host, (ushort)(controller.ControllerId + 1000), RunningTarget.DefaultNqn));
        Nvme.AssertStatus(completion, 1, 0x82);
        Assert.Equal((1u << 16) | 16u, completion.Dw0); // IATTR 1, IPO 16: CNTLID

        // Another host cannot join this host's controller either.
        await using var intruder = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var other = HostIdentity.Create();
        completion = await intruder.ConnectAsync(1, 127, Nvme.ConnectBytes(other, controller.ControllerId, RunningTarget.DefaultNqn));
        Assert.False(completion.Status.IsSuccess, "a foreign host joined an existing controller");
    }

    [Fact]
    public async Task Io_queue_connect_with_a_fresh_host_id_of_the_same_host_nqn_is_accepted_and_serves_io()
    {
        // A host library that sends a new HOSTID in every Connect: the Linux target and SPDK accept it.
        var host = HostIdentity.Create();
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, host).Within();
        var sameNqnNewId = host with { HostId = Guid.NewGuid() };

        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var completion = await queue.ConnectAsync(1, 31, Nvme.ConnectBytes(sameNqnNewId, controller.ControllerId, RunningTarget.DefaultNqn));
        Nvme.AssertSuccess(completion);
        Assert.Equal(controller.ControllerId, (ushort)completion.Dw0);

        var block = new byte[4096]; // 8 blocks of the embedded default's 512 bytes
        Random.Shared.NextBytes(block);
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.Write(1, 64, 8), dataOut: block));
        var back = new byte[4096];
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.Read(1, 64, 8), dataIn: back));
        Assert.Equal(block, back);

        // The host NQN still has to match: the same CNTLID from another host NQN is refused.
        await using var intruder = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var otherNqn = HostIdentity.Create() with { HostId = host.HostId };
        completion = await intruder.ConnectAsync(2, 31, Nvme.ConnectBytes(otherNqn, controller.ControllerId, RunningTarget.DefaultNqn));
        Nvme.AssertStatus(completion, 1, 0x82);
        Assert.Equal((1u << 16) | 16u, completion.Dw0); // IATTR 1, IPO 16: CNTLID
    }

    [Fact]
    public async Task Admin_connect_asking_for_a_static_controller_id_is_invalid_parameters()
    {
        var host = HostIdentity.Create();
        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();

        var completion = await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(host, 1, RunningTarget.DefaultNqn));

        Nvme.AssertStatus(completion, 1, 0x82);
        Assert.Equal((1u << 16) | 16u, completion.Dw0);
    }

    [Fact]
    public async Task Io_queue_beyond_the_granted_number_of_queues_is_refused()
    {
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var granted = await controller.Admin.ExecuteAsync(NvmeCommands.SetFeatures(FeatureId.NumberOfQueues, 1 | (1u << 16)));
        Nvme.AssertSuccess(granted);
        Assert.Equal(1u | (1u << 16), granted.Dw0);

        await controller.ConnectIoQueueAsync(1).Within();
        await controller.ConnectIoQueueAsync(2).Within();
        var error = await Assert.ThrowsAsync<NvmeCommandException>(() => controller.ConnectIoQueueAsync(3).Within());
        Assert.Equal(0x182, error.Status.Value & 0x7FF);
        // The same queue id twice is refused as well.
        error = await Assert.ThrowsAsync<NvmeCommandException>(() => controller.ConnectIoQueueAsync(1).Within());
        Assert.Equal(0x182, error.Status.Value & 0x7FF);
    }

    [Fact]
    public async Task Two_controllers_of_one_subsystem_get_distinct_cntlids()
    {
        var host = HostIdentity.Create();
        await using var first = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, host).Within();
        await using var second = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, host).Within();
        await using var third = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();

        ushort[] ids = [first.ControllerId, second.ControllerId, third.ControllerId];
        Assert.Equal(3, ids.Distinct().Count());
        Assert.DoesNotContain((ushort)0xFFFF, ids);
        foreach (var controller in new[] { first, second, third })
        {
            var identify = await controller.IdentifyAsync(IdentifyCns.Controller).Within();
            Assert.Equal(controller.ControllerId, BinaryPrimitives.ReadUInt16LittleEndian(identify.AsSpan(78)));
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            var data = Nvme.RandomBytes(4096, controller.ControllerId);
            await queue.WriteAsync(200_000 + (ulong)controller.ControllerId * 8, data);
            Assert.Equal(data, await queue.ReadAsync(200_000 + (ulong)controller.ControllerId * 8, 4096));
        }
    }

    [Fact]
    public async Task Property_get_reports_cap_vs_cc_and_csts()
    {
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), enable: false).Within();

        var capCompletion = await controller.Admin.ExecuteAsync(NvmeCommands.PropertyGet(ControllerProperties.Capabilities, true));
        Nvme.AssertSuccess(capCompletion);
        ulong cap = capCompletion.Dw0 | ((ulong)capCompletion.Dw1 << 32);
        Assert.Equal(127UL, cap & 0xFFFF);             // MQES: 128 entries, 0-based
        Assert.NotEqual(0UL, cap & (1UL << 16));       // CQR
        Assert.NotEqual(0UL, (cap >> 24) & 0xFF);      // TO
        Assert.NotEqual(0UL, cap & (1UL << 37));       // CSS: NVM command set
        Assert.NotEqual(0UL, cap & (1UL << 43));       // CSS: I/O command sets
        Assert.Equal(0UL, (cap >> 48) & 0xF);          // MPSMIN: 4 KiB

        uint version = await controller.PropertyGetAsync(ControllerProperties.Version);
        Assert.True(version >= 0x00010300, $"VS {version:X8} below 1.3");

        Assert.Equal(0u, await controller.PropertyGetAsync(ControllerProperties.Status) & 1);  // not ready before CC.EN
        Assert.Equal(0u, await controller.PropertyGetAsync(ControllerProperties.Configuration));

        await controller.EnableAsync().Within();

        uint status = await controller.PropertyGetAsync(ControllerProperties.Status);
        Assert.Equal(1u, status & 1);   // RDY
        Assert.Equal(0u, status & 2);   // CFS
        Assert.Equal(0u, (status >> 2) & 3); // SHST: normal operation
        Assert.Equal(ConfigurationEnabled, await controller.PropertyGetAsync(ControllerProperties.Configuration));

        var identify = await controller.IdentifyAsync(IdentifyCns.Controller).Within();
        Assert.Equal(version, BinaryPrimitives.ReadUInt32LittleEndian(identify.AsSpan(80))); // Identify VER = VS
    }

    [Fact]
    public async Task Commands_before_enable_are_command_sequence_errors()
    {
        var host = HostIdentity.Create();
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, host, enable: false).Within();

        Nvme.AssertStatus(await controller.AdminAsync(NvmeCommands.Identify(IdentifyCns.Controller), 4096), 0, 0x0C);
        Nvme.AssertStatus(await controller.AdminAsync(NvmeCommands.GetLogPage(LogPageIdentifiers.Smart, 512), 512), 0, 0x0C);
        Nvme.AssertStatus(await controller.AdminAsync(NvmeCommands.SetFeatures(FeatureId.NumberOfQueues, 0)), 0, 0x0C);
        Nvme.AssertStatus(await controller.AdminAsync(NvmeCommands.KeepAlive()), 0, 0x0C);

        // No I/O queue for a controller that is not enabled.
        var error = await Assert.ThrowsAsync<NvmeCommandException>(() => controller.ConnectIoQueueAsync(1).Within());
        Assert.Equal(0x0C, error.Status.Value & 0x7FF);
        Assert.True(error.Status.DoNotRetry);

        // An I/O command on a queue that never connected: no controller, no service.
        await using var stray = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        Nvme.AssertStatus(await stray.ExecuteAsync(NvmeCommands.Read(1, 0, 1), dataIn: new byte[512]), 0, 0x0C);
        Nvme.AssertStatus(await stray.ExecuteAsync(NvmeCommands.PropertyGet(ControllerProperties.Status, false)), 0, 0x0C);

        // Once enabled, the same commands work.
        await controller.EnableAsync().Within();
        await controller.IdentifyAsync(IdentifyCns.Controller).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        await queue.ReadAsync(0, 512);
    }

    [Fact]
    public async Task Reset_clears_ready_closes_io_queues_and_a_reenabled_controller_serves_again()
    {
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        var second = await controller.ConnectIoQueueAsync(2).Within();
        var data = Nvme.RandomBytes(8192, 300);
        await queue.WriteAsync(300_000, data);

        Nvme.AssertSuccess(await controller.Admin.ExecuteAsync(NvmeCommands.PropertySet(ControllerProperties.Configuration, ConfigurationEnabled & ~1u)));

        Assert.Equal(0u, await controller.PropertyGetAsync(ControllerProperties.Status) & 1);
        await Nvme.ClosedWithAsync(queue, TimeSpan.FromSeconds(5));
        await Nvme.ClosedWithAsync(second, TimeSpan.FromSeconds(5));
        Nvme.AssertStatus(await controller.AdminAsync(NvmeCommands.Identify(IdentifyCns.Controller), 4096), 0, 0x0C);
        Assert.Null(controller.Admin.Failure);

        await controller.EnableAsync().Within();
        var again = await controller.ConnectIoQueueAsync(1).Within();
        Assert.Equal(data, await again.ReadAsync(300_000, data.Length));

        // Round after round: once the reset closed the queues, their QIDs are free for the re-enabled controller.
        var queues = new List<HostQueue> { again };
        for (ushort id = 2; id <= 4; id++)
        {
            queues.Add(await controller.ConnectIoQueueAsync(id).Within());
        }

        for (int round = 0; round < 20; round++)
        {
            await Task.WhenAll(queues.Select(q => q.ReadAsync(300_000, 4096)));
            await Task.Delay(5); // let the target go idle: the race shows when its threads must wake up
            Nvme.AssertSuccess(await controller.Admin.ExecuteAsync(NvmeCommands.PropertySet(ControllerProperties.Configuration, ConfigurationEnabled & ~1u)));
            await Task.WhenAll(queues.Select(q => Nvme.ClosedWithAsync(q, TimeSpan.FromSeconds(5))));
            Nvme.AssertSuccess(await controller.Admin.ExecuteAsync(NvmeCommands.PropertySet(ControllerProperties.Configuration, ConfigurationEnabled)));
            for (int i = 0; i < queues.Count; i++)
            {
                queues[i] = await controller.ConnectIoQueueAsync((ushort)(i + 1)).Within();
            }
        }

        Assert.Equal(data, await queues[0].ReadAsync(300_000, data.Length));
    }

    [Fact]
    public async Task Shutdown_notification_reaches_shutdown_complete()
    {
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        await queue.WriteAsync(310_000, Nvme.RandomBytes(4096, 310));

        Nvme.AssertSuccess(await controller.Admin.ExecuteAsync(NvmeCommands.PropertySet(ControllerProperties.Configuration, ConfigurationEnabled | (1u << 14))));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        uint status;
        while (true)
        {
            status = await controller.PropertyGetAsync(ControllerProperties.Status);
            if (((status >> 2) & 3) == 2 || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(10);
        }

        Assert.Equal(2u, (status >> 2) & 3); // SHST: shutdown processing complete
        Assert.Equal(0u, status & 2);        // no fatal status
    }
}
