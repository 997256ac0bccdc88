using NovaStor.Protocol;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// Persist Through Power Loss against a target process killed with SIGKILL: a reservation command
/// acknowledged with PTPL set is durable, so the restarted target still enforces it.
/// </summary>
public sealed class ReservationCrashTests
{
    [Fact]
    public async Task A_ptpl_reservation_survives_kill_9_of_the_target()
    {
        await using var target = await ExternalTarget.StartAsync().WaitAsync(TimeSpan.FromSeconds(40));
        var holder = HostIdentity.Create();
        var other = HostIdentity.Create();
        var options = new NvmeConnectionOptions { Host = holder, ControllerLossTimeout = TimeSpan.FromSeconds(2) };
        var controller = await NvmeController.ConnectAsync(target.EndPoint, Target.Tests.RunningTarget.DefaultNqn, options).Within();
        var ns = controller.Namespace(1);
        Support.AssertSuccess(await ns.RegisterReservationAsync(ReservationRegisterAction.Register, 0, 0x77, persist: PersistThroughPowerLossChange.Set).Within(), "Register with PTPL");
        Support.AssertSuccess(await ns.AcquireReservationAsync(ReservationAcquireAction.Acquire, ReservationType.ExclusiveAccess, 0x77).Within(), "Acquire");

        await target.KillAsync();
        await controller.DisposeAsync();
        await target.StartAgainAsync().WaitAsync(TimeSpan.FromSeconds(40));

        await using var stranger = await NvmeController.ConnectAsync(target.EndPoint, Target.Tests.RunningTarget.DefaultNqn, new NvmeConnectionOptions { Host = other }).Within();
        var read = await stranger.Namespace(1).ReadAsync(0, new byte[512]).Within();
        Assert.True(read.Status.CodeType == StatusCodeType.Generic && read.Status.Code == 0x83, $"expected Reservation Conflict after the crash, got {read}");
        var report = await stranger.Namespace(1).ReportReservationsAsync().Within();
        Assert.Equal(ReservationType.ExclusiveAccess, report.Type);
        Assert.True(report.PersistThroughPowerLoss);
        Assert.Equal(holder.HostId, Assert.Single(report.Controllers).HostId);
    }
}
