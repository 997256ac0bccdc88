using NovaStor.Protocol;
using NovaStor.Target.Core.Reservations;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>The reservation rules themselves, without a transport: the all-registrants types and storing failures.</summary>
public sealed class NamespaceReservationsTests
{
    private static readonly Guid A = Guid.NewGuid(), B = Guid.NewGuid(), C = Guid.NewGuid();

    [Fact]
    public void Under_an_all_registrants_type_every_registrant_holds_it_until_the_last_one_leaves()
    {
        var reservations = new NamespaceReservations();
        Register(reservations, A, 1);
        Register(reservations, B, 2);
        Assert.True(reservations.Acquire(A, ReservationAcquireAction.Acquire, false, ReservationType.ExclusiveAccessAllRegistrants, 1, 0).Status.IsSuccess);
        var state = reservations.Current;
        Assert.True(state.IsHolder(A) && state.IsHolder(B) && !state.IsHolder(C));
        Assert.True(state.Allows(B, writes: true));
        Assert.False(state.Allows(C, writes: false));
        // B holds it too: acquiring the same type is a no-op, another type a conflict.
        Assert.True(reservations.Acquire(B, ReservationAcquireAction.Acquire, false, ReservationType.ExclusiveAccessAllRegistrants, 2, 0).Status.IsSuccess);
        Assert.Equal(StatusCodes.ReservationConflict, reservations.Acquire(B, ReservationAcquireAction.Acquire, false, ReservationType.WriteExclusive, 2, 0).Status);

        // A leaves: B still holds it. B leaves: the reservation ends with the last registrant.
        Assert.True(reservations.Register(A, ReservationRegisterAction.Unregister, false, 1, 0, PersistThroughPowerLossChange.NoChange).Status.IsSuccess);
        Assert.Equal(ReservationType.ExclusiveAccessAllRegistrants, reservations.Current.Type);
        Assert.True(reservations.Register(B, ReservationRegisterAction.Unregister, false, 2, 0, PersistThroughPowerLossChange.NoChange).Status.IsSuccess);
        Assert.Equal(ReservationType.None, reservations.Current.Type);
    }

    [Fact]
    public void Preempting_an_all_registrants_reservation_with_key_zero_removes_every_other_registrant()
    {
        var reservations = new NamespaceReservations();
        Register(reservations, A, 1);
        Register(reservations, B, 2);
        Register(reservations, C, 3);
        Assert.True(reservations.Acquire(A, ReservationAcquireAction.Acquire, false, ReservationType.WriteExclusiveAllRegistrants, 1, 0).Status.IsSuccess);
        var outcome = reservations.Acquire(C, ReservationAcquireAction.Preempt, false, ReservationType.WriteExclusive, 3, 0);
        Assert.True(outcome.Status.IsSuccess);
        Assert.Equal(new[] { A, B }.Order(), outcome.Notices.Select(n => n.HostId).Order());
        Assert.All(outcome.Notices, n => Assert.Equal(ReservationNotificationType.RegistrationPreempted, n.Type));
        var state = reservations.Current;
        Assert.Equal(ReservationType.WriteExclusive, state.Type);
        Assert.Equal(C, state.Holder);
        Assert.Equal([C], state.Registrants.Select(r => r.HostId).ToArray());
    }

    [Fact]
    public void When_storing_fails_the_command_fails_and_the_state_stays_as_it_was()
    {
        var reservations = new NamespaceReservations { Persist = _ => throw new IOException("disk full") };
        // Without PTPL nothing is stored: registering works.
        Register(reservations, A, 1);
        var before = reservations.Current;
        var outcome = reservations.Register(A, ReservationRegisterAction.Replace, false, 1, 5, PersistThroughPowerLossChange.Set);
        Assert.Equal(StatusCodes.InternalError, outcome.Status);
        Assert.Equal("disk full", outcome.StoreFailure);
        Assert.Same(before, reservations.Current);
        var ptpl = reservations.SetPersistThroughPowerLoss(true);
        Assert.Equal(StatusCodes.InternalError, ptpl.Status);
        Assert.Equal("disk full", ptpl.StoreFailure);
        Assert.False(reservations.Current.PersistThroughPowerLoss);
    }

    private static void Register(NamespaceReservations reservations, Guid host, ulong key) =>
        Assert.True(reservations.Register(host, ReservationRegisterAction.Register, false, 0, key, PersistThroughPowerLossChange.NoChange).Status.IsSuccess);

    [Fact]
    public void Preempt_key_zero_is_invalid_for_a_single_holder_and_a_type_change_is_a_release_to_the_others()
    {
        var reservations = new NamespaceReservations();
        Register(reservations, A, 1);
        Register(reservations, B, 2);
        Register(reservations, C, 3);
        Assert.True(reservations.Acquire(A, ReservationAcquireAction.Acquire, false, ReservationType.WriteExclusiveRegistrantsOnly, 1, 0).Status.IsSuccess);
        Assert.Equal(StatusCodes.InvalidField, reservations.Acquire(C, ReservationAcquireAction.Preempt, false, ReservationType.WriteExclusive, 3, 0).Status);

        // C takes A's reservation with another type: A is preempted, B (still registered) sees the
        // reservation it held under released.
        var outcome = reservations.Acquire(C, ReservationAcquireAction.Preempt, false, ReservationType.ExclusiveAccessRegistrantsOnly, 3, 1);
        Assert.True(outcome.Status.IsSuccess);
        Assert.Contains(new ReservationNotice(A, ReservationNotificationType.RegistrationPreempted), outcome.Notices);
        Assert.Contains(new ReservationNotice(B, ReservationNotificationType.ReservationReleased), outcome.Notices);
        Assert.DoesNotContain(outcome.Notices, n => n.HostId == C);
    }
}
