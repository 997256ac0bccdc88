using NovaStor.Protocol;

namespace NovaStor.Target.Core.Reservations;

/// <summary>A notification a reservation command owes a host (delivered to each of its controllers).</summary>
internal readonly record struct ReservationNotice(Guid HostId, ReservationNotificationType Type);

/// <summary>What a reservation command did: its status, the notices it owes other hosts, and why storing failed.</summary>
internal readonly record struct ReservationOutcome(NvmeStatus Status, IReadOnlyList<ReservationNotice> Notices, string? StoreFailure = null)
{
    public static ReservationOutcome Of(NvmeStatus status) => new(status, []);
}

/// <summary>
/// The reservations of one namespace (NVMe Base 2.0, section 8.19): registrations keyed by host
/// identifier, so every controller of a host shares its registration, and the reservation held.
/// Commands change it one at a time under a lock (they are rare and run off the reactors); the I/O
/// path reads <see cref="Current"/> without one. With PTPL set each new state is stored through
/// <see cref="Persist"/> before it takes effect, so a command is acknowledged only once durable.
/// </summary>
internal sealed class NamespaceReservations
{
    private readonly Lock _lock = new();
    private ReservationState _state = ReservationState.Empty;

    /// <summary>Stores a state durably (PTPL); throws when it cannot, and the state then does not change.</summary>
    public Action<ReservationState>? Persist { get; set; }

    public ReservationState Current => Volatile.Read(ref _state);

    /// <summary>The state stored before a restart (PTPL); only at start-up, before any host connects.</summary>
    public void Restore(ReservationState stored) => Volatile.Write(ref _state, stored);

    public ReservationOutcome Register(Guid host, ReservationRegisterAction action, bool ignoreExistingKey, ulong currentKey, ulong newKey, PersistThroughPowerLossChange persist)
    {
        if (persist == PersistThroughPowerLossChange.Reserved || action > ReservationRegisterAction.Replace)
        {
            return ReservationOutcome.Of(StatusCodes.InvalidField);
        }

        lock (_lock)
        {
            var s = _state;
            int index = s.IndexOf(host);
            bool keyMatches = index >= 0 && (ignoreExistingKey || s.Registrants[index].Key == currentKey);
            ReservationState next;
            List<ReservationNotice> notices = [];
            switch (action)
            {
                case ReservationRegisterAction.Register:
                    if (index >= 0)
                    {
                        // Registering again with the same key succeeds (and, as every successful
                        // Register, moves the generation, as nvmet does); with another it is a conflict.
                        if (s.Registrants[index].Key != newKey)
                        {
                            return ReservationOutcome.Of(StatusCodes.ReservationConflict);
                        }

                        next = s with { Generation = s.Generation + 1 };
                    }
                    else
                    {
                        next = s with { Generation = s.Generation + 1, Registrants = [.. s.Registrants, new Registrant(host, newKey)] };
                    }

                    break;
                case ReservationRegisterAction.Unregister:
                    if (!keyMatches)
                    {
                        return ReservationOutcome.Of(StatusCodes.ReservationConflict);
                    }

                    next = Unregistered(s, host, notices);
                    break;
                default:
                    if (!keyMatches)
                    {
                        return ReservationOutcome.Of(StatusCodes.ReservationConflict);
                    }

                    var replaced = (Registrant[])s.Registrants.Clone();
                    replaced[index] = new Registrant(host, newKey);
                    next = s with { Generation = s.Generation + 1, Registrants = replaced };
                    break;
            }

            next = persist switch
            {
                PersistThroughPowerLossChange.Set => next with { PersistThroughPowerLoss = true },
                PersistThroughPowerLossChange.Clear => next with { PersistThroughPowerLoss = false },
                _ => next,
            };
            return Publish(s, next, notices);
        }
    }

    public ReservationOutcome Acquire(Guid host, ReservationAcquireAction action, bool ignoreExistingKey, ReservationType type, ulong currentKey, ulong preemptKey)
    {
        // IEKEY is obsolete for Acquire and Release and refused, as the Linux target does.
        if (ignoreExistingKey || action > ReservationAcquireAction.PreemptAndAbort || type is ReservationType.None or > ReservationType.ExclusiveAccessAllRegistrants)
        {
            return ReservationOutcome.Of(StatusCodes.InvalidField);
        }

        lock (_lock)
        {
            var s = _state;
            if (!s.HoldsKey(host, currentKey))
            {
                return ReservationOutcome.Of(StatusCodes.ReservationConflict);
            }

            List<ReservationNotice> notices = [];
            if (action == ReservationAcquireAction.Acquire)
            {
                if (s.Type == ReservationType.None)
                {
                    return Publish(s, s with { Type = type, Holder = host }, notices);
                }

                // Acquiring what one already holds is a no-op; anything else conflicts.
                return ReservationOutcome.Of(s.IsHolder(host) && s.Type == type ? NvmeStatus.Success : StatusCodes.ReservationConflict);
            }

            // Preempt (and Preempt and Abort: commands run to completion here, and every command
            // received after this one is checked against the new state).
            bool takesReservation = s.Type != ReservationType.None
                && (s.IsAllRegistrantsType ? preemptKey == 0 : s.Registrants[s.IndexOf(s.Holder)].Key == preemptKey);
            var kept = new List<Registrant>(s.Registrants.Length);
            foreach (var registrant in s.Registrants)
            {
                bool preempted = registrant.HostId != host
                    && (registrant.Key == preemptKey || (takesReservation && s.IsAllRegistrantsType));
                if (preempted)
                {
                    notices.Add(new ReservationNotice(registrant.HostId, ReservationNotificationType.RegistrationPreempted));
                }
                else
                {
                    kept.Add(registrant);
                }
            }

            if (!takesReservation && preemptKey == 0 && s.Type != ReservationType.None && !s.IsAllRegistrantsType)
            {
                // PRKEY 0 preempts only an all-registrants reservation (as nvmet answers it).
                return ReservationOutcome.Of(StatusCodes.InvalidField);
            }

            if (!takesReservation && notices.Count == 0)
            {
                // PRKEY names no registrant (and not the reservation): nothing to preempt.
                return ReservationOutcome.Of(StatusCodes.ReservationConflict);
            }

            var next = s with { Generation = s.Generation + 1, Registrants = [.. kept] };
            if (takesReservation)
            {
                next = next with { Type = type, Holder = host };
                if (type != s.Type)
                {
                    // The reservation the others held under changed type: to them it was released.
                    NotifyReleased(next with { Type = s.Type }, host, notices);
                }
            }

            return Publish(s, next, notices);
        }
    }

    public ReservationOutcome Release(Guid host, ReservationReleaseAction action, bool ignoreExistingKey, ReservationType type, ulong currentKey)
    {
        if (ignoreExistingKey || action > ReservationReleaseAction.Clear)
        {
            return ReservationOutcome.Of(StatusCodes.InvalidField);
        }

        lock (_lock)
        {
            var s = _state;
            if (!s.HoldsKey(host, currentKey))
            {
                return ReservationOutcome.Of(StatusCodes.ReservationConflict);
            }

            List<ReservationNotice> notices = [];
            if (action == ReservationReleaseAction.Clear)
            {
                foreach (var registrant in s.Registrants)
                {
                    if (registrant.HostId != host)
                    {
                        notices.Add(new ReservationNotice(registrant.HostId, ReservationNotificationType.ReservationPreempted));
                    }
                }

                return Publish(s, s with { Generation = s.Generation + 1, Type = ReservationType.None, Holder = Guid.Empty, Registrants = [] }, notices);
            }

            // Releasing what one does not hold succeeds and changes nothing.
            if (!s.IsHolder(host))
            {
                return ReservationOutcome.Of(NvmeStatus.Success);
            }

            if (type != s.Type)
            {
                return ReservationOutcome.Of(StatusCodes.InvalidField);
            }

            NotifyReleased(s, host, notices);
            return Publish(s, s with { Type = ReservationType.None, Holder = Guid.Empty }, notices);
        }
    }

    /// <summary>Set Features 83h: PTPL on or off (stored when it turns on, forgotten when it turns off).</summary>
    public ReservationOutcome SetPersistThroughPowerLoss(bool enabled)
    {
        lock (_lock)
        {
            var s = _state;
            return Publish(s, s with { PersistThroughPowerLoss = enabled }, []);
        }
    }

    /// <summary>The host leaves the registrants; a reservation it held is released as the type says.</summary>
    private static ReservationState Unregistered(ReservationState s, Guid host, List<ReservationNotice> notices)
    {
        var next = s with { Generation = s.Generation + 1, Registrants = [.. s.Registrants.Where(r => r.HostId != host)] };
        bool releases = s.Type != ReservationType.None
            && (s.IsAllRegistrantsType ? next.Registrants.Length == 0 : s.Holder == host);
        if (!releases)
        {
            return next;
        }

        NotifyReleased(s, host, notices);
        return next with { Type = ReservationType.None, Holder = Guid.Empty };
    }

    /// <summary>A released reservation of a registrants type is news to the other registrants (not for WE/EA).</summary>
    private static void NotifyReleased(ReservationState s, Guid host, List<ReservationNotice> notices)
    {
        if (s.Type is ReservationType.WriteExclusive or ReservationType.ExclusiveAccess)
        {
            return;
        }

        foreach (var registrant in s.Registrants)
        {
            if (registrant.HostId != host)
            {
                notices.Add(new ReservationNotice(registrant.HostId, ReservationNotificationType.ReservationReleased));
            }
        }
    }

    /// <summary>Stores the new state first when PTPL is or was on; then makes it current.</summary>
    private ReservationOutcome Publish(ReservationState previous, ReservationState next, List<ReservationNotice> notices)
    {
        if (!ReferenceEquals(previous, next) && (previous.PersistThroughPowerLoss || next.PersistThroughPowerLoss) && Persist is { } persist)
        {
            try
            {
                persist(next);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new ReservationOutcome(StatusCodes.InternalError, [], e.Message);
            }
        }

        Volatile.Write(ref _state, next);
        return new ReservationOutcome(NvmeStatus.Success, notices);
    }
}
