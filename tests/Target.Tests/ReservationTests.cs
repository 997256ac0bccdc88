using System.Buffers.Binary;
using NovaStor.Initiator;
using NovaStor.Protocol;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// Reservations (NVMe Base 2.0, section 8.19) as two hosts see them through the managed initiator:
/// who may read and write under each type, registration keys, preemption and its notifications,
/// the report, and Persist Through Power Loss across a restart.
/// </summary>
public sealed class ReservationTests : IAsyncLifetime
{
    private const ulong KeyA = 0xA1A1, KeyB = 0xB2B2;
    private readonly HostIdentity _hostA = HostIdentity.Create(), _hostB = HostIdentity.Create();
    private RunningTarget _target = null!;

    public async Task InitializeAsync() => _target = await RunningTarget.StartAsync();

    public async Task DisposeAsync() => await _target.DisposeAsync();

    [Fact]
    public async Task Write_exclusive_lets_only_the_holder_write_and_everyone_read()
    {
        await using var a = await ConnectAsync(_hostA);
        await using var b = await ConnectAsync(_hostB);
        var nsA = a.Namespace(1);
        var nsB = b.Namespace(1);
        AssertOk(await nsA.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyA));
        AssertOk(await nsB.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyB));
        AssertOk(await nsA.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.WriteExclusive, KeyA));

        var data = Nvme.RandomBytes(4096, 1);
        AssertOk(await nsA.WriteAsync(100, data));
        AssertConflict(await nsB.WriteAsync(100, Nvme.RandomBytes(4096, 2)));
        AssertConflict(await nsB.WriteZeroesAsync(100, 8));
        AssertConflict(await nsB.FlushAsync());
        var back = new byte[4096];
        AssertOk(await nsB.ReadAsync(100, back));
        Assert.Equal(data, back);

        var report = await nsB.ReportReservationsAsync();
        Assert.Equal(ReservationType.WriteExclusive, report.Type);
        Assert.Equal(2u, report.Generation);
        Assert.False(report.PersistThroughPowerLoss);
        Assert.Equal(2, report.Controllers.Count);
        var holder = Assert.Single(report.Controllers, c => c.HoldsReservation);
        Assert.Equal(_hostA.HostId, holder.HostId);
        Assert.Equal(KeyA, holder.Key);
        Assert.Contains(report.Controllers, c => c.HostId == _hostB.HostId && c.Key == KeyB && !c.HoldsReservation);

        // Release must name the type held; then B writes again.
        Assert.Equal(StatusCodes.InvalidField, (await nsA.ReleaseReservationAsync(ReservationReleaseAction.Release, ReservationType.ExclusiveAccess, KeyA)).Status);
        AssertOk(await nsA.ReleaseReservationAsync(ReservationReleaseAction.Release, ReservationType.WriteExclusive, KeyA));
        AssertOk(await nsB.WriteAsync(100, data));
    }

    [Fact]
    public async Task Exclusive_access_refuses_reads_too_and_registrants_only_types_admit_registrants()
    {
        await using var a = await ConnectAsync(_hostA);
        await using var b = await ConnectAsync(_hostB);
        var nsA = a.Namespace(1);
        var nsB = b.Namespace(1);
        var block = new byte[512];
        AssertOk(await nsA.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyA));
        AssertOk(await nsA.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.ExclusiveAccess, KeyA));
        AssertConflict(await nsB.ReadAsync(0, block));
        AssertConflict(await nsB.WriteAsync(0, block));
        AssertOk(await nsA.ReadAsync(0, block));

        // Registrants only: a registered B reads and writes; an unregistered host is refused.
        AssertOk(await nsA.ReleaseReservationAsync(ReservationReleaseAction.Release, ReservationType.ExclusiveAccess, KeyA));
        AssertOk(await nsA.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.ExclusiveAccessRegistrantsOnly, KeyA));
        AssertConflict(await nsB.ReadAsync(0, block));
        AssertOk(await nsB.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyB));
        AssertOk(await nsB.ReadAsync(0, block));
        AssertOk(await nsB.WriteAsync(0, block));

        // Write exclusive, registrants only: an unregistered host reads but does not write.
        AssertOk(await nsB.RegisterReservationAsync(ReservationRegisterAction.Unregister, KeyB, 0));
        AssertOk(await nsA.ReleaseReservationAsync(ReservationReleaseAction.Release, ReservationType.ExclusiveAccessRegistrantsOnly, KeyA));
        AssertOk(await nsA.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.WriteExclusiveRegistrantsOnly, KeyA));
        AssertOk(await nsB.ReadAsync(0, block));
        AssertConflict(await nsB.WriteAsync(0, block));
    }

    [Fact]
    public async Task Keys_are_checked_and_a_second_controller_of_a_host_shares_its_registration()
    {
        await using var a = await ConnectAsync(_hostA);
        await using var a2 = await ConnectAsync(_hostA);
        var nsA = a.Namespace(1);
        AssertOk(await nsA.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyA));
        AssertOk(await nsA.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyA)); // same key again: harmless
        AssertConflict(await nsA.RegisterReservationAsync(ReservationRegisterAction.Register, 0, 0x1234));
        AssertConflict(await nsA.RegisterReservationAsync(ReservationRegisterAction.Replace, 0x9999, 0x1234));
        AssertConflict(await nsA.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.WriteExclusive, 0x9999));

        // The other controller of host A holds the same registration: it acquires with A's key.
        var nsA2 = a2.Namespace(1);
        AssertOk(await nsA2.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.WriteExclusive, KeyA));
        AssertOk(await nsA.WriteAsync(8, new byte[512]));
        var report = await nsA.ReportReservationsAsync();
        Assert.Equal(2, report.Controllers.Count);
        Assert.All(report.Controllers, c => Assert.True(c.HostId == _hostA.HostId && c.HoldsReservation && c.Key == KeyA));
        Assert.NotEqual(report.Controllers[0].ControllerId, report.Controllers[1].ControllerId);

        // Replace with IEKEY ignores the current key; unregistering the holder releases the reservation.
        AssertOk(await nsA.RegisterReservationAsync(ReservationRegisterAction.Replace, 0, 0x5555, ignoreExistingKey: true));
        AssertOk(await nsA.RegisterReservationAsync(ReservationRegisterAction.Unregister, 0x5555, 0));
        report = await nsA.ReportReservationsAsync();
        Assert.Equal(ReservationType.None, report.Type);
        Assert.Empty(report.Controllers);
        Assert.Equal(4u, report.Generation); // every successful Register moves it (the repeat too); refusals do not
    }

    [Fact]
    public async Task Preempt_takes_the_reservation_and_the_preempted_host_is_told()
    {
        await using var a = await ConnectAsync(_hostA);
        await using var b = await ConnectAsync(_hostB);
        var noticesA = new Notices(a);
        var nsA = a.Namespace(1);
        var nsB = b.Namespace(1);
        AssertOk(await nsA.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyA));
        AssertOk(await nsB.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyB));
        AssertOk(await nsA.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.WriteExclusive, KeyA));
        AssertConflict(await nsB.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.WriteExclusive, KeyB));
        AssertConflict(await nsB.AcquireReservationAsync(ReservationAcquireAction.Preempt, ReservationType.WriteExclusive, KeyB, preemptKey: 0x4242));

        AssertOk(await nsB.AcquireReservationAsync(ReservationAcquireAction.PreemptAndAbort, ReservationType.ExclusiveAccess, KeyB, preemptKey: KeyA));
        AssertConflict(await nsA.ReadAsync(0, new byte[512]));
        AssertConflict(await nsA.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.WriteExclusive, KeyA)); // A is no longer registered
        var report = await nsB.ReportReservationsAsync();
        Assert.Equal(ReservationType.ExclusiveAccess, report.Type);
        var only = Assert.Single(report.Controllers);
        Assert.Equal(_hostB.HostId, only.HostId);

        // A's controller is told: registration preempted on namespace 1 (the initiator reads the
        // log when the asynchronous event arrives); the log is then empty.
        var notice = await noticesA.NextAsync();
        Assert.Equal(ReservationNotificationType.RegistrationPreempted, notice.Type);
        Assert.Equal(1u, notice.NamespaceId);
        Assert.Equal(1ul, notice.Count);
        Assert.Equal(0, notice.AvailableAfter);
        var empty = ReservationNotification.Read(await LogPageAsync(a, LogPageIdentifiers.ReservationNotification, ReservationNotification.Length));
        Assert.Equal(ReservationNotificationType.Empty, empty.Type);
        Assert.Equal(0ul, empty.Count);

        // Clear ends the reservation and every registration: A writes again.
        AssertOk(await nsB.ReleaseReservationAsync(ReservationReleaseAction.Clear, ReservationType.None, KeyB));
        AssertOk(await nsA.WriteAsync(0, new byte[512]));
    }

    [Fact]
    public async Task Released_registrants_only_reservation_notifies_the_other_registrants_unless_masked()
    {
        await using var a = await ConnectAsync(_hostA);
        await using var b = await ConnectAsync(_hostB);
        var noticesA = new Notices(a);
        var noticesB = new Notices(b);
        var nsA = a.Namespace(1);
        var nsB = b.Namespace(1);
        AssertOk(await nsA.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyA));
        AssertOk(await nsB.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyB));
        AssertOk(await nsA.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.WriteExclusiveRegistrantsOnly, KeyA));
        AssertOk(await nsA.ReleaseReservationAsync(ReservationReleaseAction.Release, ReservationType.WriteExclusiveRegistrantsOnly, KeyA));
        Assert.Equal(ReservationNotificationType.ReservationReleased, (await noticesB.NextAsync()).Type);

        // B masks "reservation released" (bit 2) on namespace 1: the next release leaves it no
        // notice, so the next one it gets is the preemption that follows.
        Assert.True((await b.AdminAsync(NamespaceFeature(AdminOpcode.SetFeatures, FeatureId.ReservationNotificationMask, 1, 1u << 2))).IsSuccess);
        var mask = await b.AdminAsync(NamespaceFeature(AdminOpcode.GetFeatures, FeatureId.ReservationNotificationMask, 1, 0));
        Assert.Equal(1u << 2, mask.Result);
        AssertOk(await nsA.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.WriteExclusiveRegistrantsOnly, KeyA));
        AssertOk(await nsA.ReleaseReservationAsync(ReservationReleaseAction.Release, ReservationType.WriteExclusiveRegistrantsOnly, KeyA));
        AssertOk(await nsA.AcquireReservationAsync(ReservationAcquireAction.Preempt, ReservationType.WriteExclusive, KeyA, preemptKey: KeyB));
        Assert.Equal(ReservationNotificationType.RegistrationPreempted, (await noticesB.NextAsync()).Type);

        // The host that acted is never told about its own commands.
        Assert.True(noticesA.IsEmpty);
    }

    [Fact]
    public async Task A_preempted_host_gets_an_asynchronous_event_for_the_reservation_log()
    {
        await using var a = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, _hostA).Within();
        var queueA = await a.ConnectIoQueueAsync(1).Within();
        await using var b = await ConnectAsync(_hostB);
        var register = new byte[16];
        ReservationCommandFields.WriteKeys(register, 0, KeyA);
        Nvme.AssertSuccess(await queueA.ExecuteAsync(NvmeCommands.ReservationRegister(1, ReservationRegisterAction.Register), register));
        var aer = a.Admin.SubmitAsync(new SubmissionQueueEntry { Opcode = AdminOpcode.AsyncEventRequest });
        Assert.False(aer.IsCompleted);

        AssertOk(await b.Namespace(1).RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyB));
        AssertOk(await b.Namespace(1).AcquireReservationAsync(ReservationAcquireAction.Preempt, ReservationType.WriteExclusive, KeyB, preemptKey: KeyA));

        var completion = await aer.Within();
        Nvme.AssertSuccess(completion);
        Assert.Equal(0x6u, completion.Dw0 & 0x7);                        // I/O command specific status
        Assert.Equal(0x00u, (completion.Dw0 >> 8) & 0xFF);               // reservation log page available
        Assert.Equal(LogPageIdentifiers.ReservationNotification, (byte)(completion.Dw0 >> 16));
        var notice = ReservationNotification.Read(await a.LogPageAsync(LogPageIdentifiers.ReservationNotification, ReservationNotification.Length));
        Assert.Equal(ReservationNotificationType.RegistrationPreempted, notice.Type);
    }

    [Fact]
    public async Task The_report_without_the_extended_structure_and_malformed_commands_get_clear_errors()
    {
        await using var a = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, _hostA).Within();
        var queue = await a.ConnectIoQueueAsync(1).Within();
        // 128-bit host identifiers do not fit the 64-bit structure: Host Identifier Inconsistent Format.
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.ReservationReport(1, 4096, extended: false), dataIn: new byte[4096]), 0, 0x18);
        var keys = new byte[16];
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.ReservationAcquire(1, ReservationAcquireAction.Acquire, (ReservationType)7), keys), 0, 0x02);
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.ReservationRegister(1, ReservationRegisterAction.Register, persist: PersistThroughPowerLossChange.Reserved), keys), 0, 0x02);
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.ReservationRegister(1, (ReservationRegisterAction)5), keys), 0, 0x02);
        // Wrong data length: the SGL must describe the 16 bytes of keys.
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.ReservationRegister(1, ReservationRegisterAction.Register), new byte[8]), 0, 0x0F);
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.ReservationReport(7, 4096), dataIn: new byte[4096]), 0, 0x0B);

        // A short report buffer gets the first bytes of the report.
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.ReservationRegister(1, ReservationRegisterAction.Register), WithKeys(0, KeyA)));
        var header = new byte[64];
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.ReservationReport(1, 64), dataIn: header));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(header));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(5)));
    }

    [Fact]
    public async Task Release_and_clear_accept_the_16_bytes_the_linux_block_layer_sends()
    {
        await using var a = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, _hostA).Within();
        var queue = await a.ConnectIoQueueAsync(1).Within();
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.ReservationRegister(1, ReservationRegisterAction.Register), WithKeys(0, KeyA)));
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.ReservationAcquire(1, ReservationAcquireAction.Acquire, ReservationType.WriteExclusive), WithKeys(KeyA, 0)));
        // nvme_pr_release / nvme_pr_clear send a 16-byte buffer (CRKEY first) for Release too.
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.ReservationRelease(1, ReservationReleaseAction.Release, ReservationType.WriteExclusive), WithKeys(KeyA, 0)));
        Nvme.AssertSuccess(await queue.ExecuteAsync(NvmeCommands.ReservationRelease(1, ReservationReleaseAction.Clear, ReservationType.None), WithKeys(KeyA, 0)));
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.ReservationRelease(1, ReservationReleaseAction.Release, ReservationType.None), new byte[4]), 0, 0x0F);
    }

    [Fact]
    public async Task Queues_that_close_with_reservation_commands_running_leave_the_target_serving()
    {
        for (int round = 0; round < 20; round++)
        {
            var host = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
            var queue = await host.ConnectIoQueueAsync(1).Within();
            var reports = Enumerable.Range(0, 16).Select(_ => queue.SubmitAsync(NvmeCommands.ReservationReport(1, 4096), dataIn: new byte[4096])).ToArray();
            await host.DisposeAsync(); // the connections close while the reports run on the thread pool
            foreach (var report in reports)
            {
                try
                {
                    await report.Within();
                }
                catch (Exception e) when (e is NvmeTransportException or OperationCanceledException or ObjectDisposedException)
                {
                }
            }
        }

        await using var after = await ConnectAsync(_hostB);
        AssertOk(await after.Namespace(1).WriteAsync(0, new byte[512]));
        Assert.Empty((await after.Namespace(1).ReportReservationsAsync()).Controllers);
    }

    [Fact]
    public async Task Reservations_with_persist_through_power_loss_survive_a_restart_and_others_do_not()
    {
        await using (var a = await ConnectAsync(_hostA))
        {
            var ns = a.Namespace(1);
            AssertOk(await ns.RegisterReservationAsync(ReservationRegisterAction.Register, 0, KeyA, persist: PersistThroughPowerLossChange.Set));
            AssertOk(await ns.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.ExclusiveAccess, KeyA));
            var ptpl = await a.AdminAsync(NamespaceFeature(AdminOpcode.GetFeatures, FeatureId.ReservationPersistence, 1, 0));
            Assert.Equal(1u, ptpl.Result);
        }

        await _target.StopAsync().Within();
        await _target.StartAgainAsync().Within();

        await using (var b = await ConnectAsync(_hostB))
        {
            var ns = b.Namespace(1);
            AssertConflict(await ns.ReadAsync(0, new byte[512]));
            var report = await ns.ReportReservationsAsync();
            Assert.True(report.PersistThroughPowerLoss);
            Assert.Equal(ReservationType.ExclusiveAccess, report.Type);
            var entry = Assert.Single(report.Controllers);
            Assert.Equal(ReservationStatus.NoController, entry.ControllerId); // A has no controller after the restart
            Assert.Equal(_hostA.HostId, entry.HostId);
        }

        // A comes back with its host ID: still the holder. It turns PTPL off; the next restart forgets it all.
        await using (var a = await ConnectAsync(_hostA))
        {
            var ns = a.Namespace(1);
            AssertOk(await ns.WriteAsync(0, new byte[512]));
            Assert.True((await a.AdminAsync(NamespaceFeature(AdminOpcode.SetFeatures, FeatureId.ReservationPersistence, 1, 0))).IsSuccess);
        }

        await _target.StopAsync().Within();
        await _target.StartAgainAsync().Within();
        await using (var b = await ConnectAsync(_hostB))
        {
            var report = await b.Namespace(1).ReportReservationsAsync();
            Assert.Equal(ReservationType.None, report.Type);
            Assert.Empty(report.Controllers);
            AssertOk(await b.Namespace(1).WriteAsync(0, new byte[512]));
        }
    }

    [Fact]
    public async Task A_corrupt_reservation_store_stops_start_up_with_a_message_naming_it()
    {
        await _target.StopAsync().Within();
        await File.WriteAllTextAsync(Path.Combine(_target.DataDirectory, "reservations.json"), "{ \"version\": 1, \"namespaces\": [ ");
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => _target.StartAgainAsync());
        Assert.Contains("reservations.json", failure.ToString(), StringComparison.Ordinal);
        File.Delete(Path.Combine(_target.DataDirectory, "reservations.json"));
        await _target.StartAgainAsync().Within();
    }

    /// <summary>The reservation notices a controller receives, in order.</summary>
    private sealed class Notices
    {
        private readonly System.Threading.Channels.Channel<ReservationNotification> _received = System.Threading.Channels.Channel.CreateUnbounded<ReservationNotification>();

        public Notices(NvmeController controller) => controller.ReservationNotified += notice => _received.Writer.TryWrite(notice);

        public bool IsEmpty => !_received.Reader.TryPeek(out _);

        public async Task<ReservationNotification> NextAsync() => await _received.Reader.ReadAsync().AsTask().Within();
    }

    private Task<NvmeController> ConnectAsync(HostIdentity host) =>
        NvmeController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, new NvmeConnectionOptions { Host = host }).Within();

    private static async Task<byte[]> LogPageAsync(NvmeController controller, byte logId, int length)
    {
        var data = new byte[length];
        var result = await controller.AdminAsync(NvmeCommands.GetLogPage(logId, length), data);
        Assert.True(result.IsSuccess, $"Get Log Page {logId:X2}h: {result}");
        return data;
    }

    private static SubmissionQueueEntry NamespaceFeature(byte opcode, byte feature, uint namespaceId, uint value) => new()
    {
        Opcode = opcode,
        NamespaceId = namespaceId,
        Cdw10 = feature,
        Cdw11 = value,
    };

    private static byte[] WithKeys(ulong current, ulong second)
    {
        var keys = new byte[16];
        ReservationCommandFields.WriteKeys(keys, current, second);
        return keys;
    }

    private static void AssertOk(NvmeResult result) => Assert.True(result.IsSuccess, $"expected success, got {result}");

    private static void AssertConflict(NvmeResult result) =>
        Assert.True(result.Status.CodeType == StatusCodeType.Generic && result.Status.Code == 0x83, $"expected Reservation Conflict (83h), got {result}");
}
