using NovaStor.Protocol;

namespace NovaStor.Target.Core.Reservations;

/// <summary>A registration: a host (by its 128-bit host identifier) and its reservation key.</summary>
internal readonly record struct Registrant(Guid HostId, ulong Key);

/// <summary>
/// A namespace's reservation state at one moment: immutable, so the I/O path reads it without a
/// lock (<see cref="NamespaceReservations.Current"/>) while a reservation command builds the next.
/// </summary>
/// <param name="Generation">PRGEN: changes with every registration change and preemption.</param>
/// <param name="Type">The reservation held, or None.</param>
/// <param name="Holder">The holding host (for the all-registrants types every registrant holds it; this is the one that acquired it).</param>
/// <param name="Registrants">Registered hosts, in registration order.</param>
/// <param name="PersistThroughPowerLoss">PTPL: this state is stored and survives a target restart.</param>
internal sealed record ReservationState(uint Generation, ReservationType Type, Guid Holder, Registrant[] Registrants, bool PersistThroughPowerLoss)
{
    public static readonly ReservationState Empty = new(0, ReservationType.None, Guid.Empty, [], false);

    public bool IsAllRegistrantsType => Type is ReservationType.WriteExclusiveAllRegistrants or ReservationType.ExclusiveAccessAllRegistrants;

    public int IndexOf(Guid hostId)
    {
        for (int i = 0; i < Registrants.Length; i++)
        {
            if (Registrants[i].HostId == hostId)
            {
                return i;
            }
        }

        return -1;
    }

    public bool IsRegistered(Guid hostId) => IndexOf(hostId) >= 0;

    /// <summary>The host is registered with exactly this key (what Acquire and Release require).</summary>
    public bool HoldsKey(Guid hostId, ulong key)
    {
        int index = IndexOf(hostId);
        return index >= 0 && Registrants[index].Key == key;
    }

    /// <summary>Holds the reservation: the holder, or any registrant under an all-registrants type.</summary>
    public bool IsHolder(Guid hostId) =>
        Type != ReservationType.None && (IsAllRegistrantsType ? IsRegistered(hostId) : Holder == hostId);

    /// <summary>
    /// Whether a command from <paramref name="hostId"/> may run: reads and writes as the type allows
    /// them (NVMe Base 2.0, "Command Behavior in the Presence of a Reservation").
    /// </summary>
    public bool Allows(Guid hostId, bool writes) => Type switch
    {
        ReservationType.None => true,
        ReservationType.WriteExclusive => !writes || Holder == hostId,
        ReservationType.ExclusiveAccess => Holder == hostId,
        ReservationType.WriteExclusiveRegistrantsOnly or ReservationType.WriteExclusiveAllRegistrants => !writes || IsRegistered(hostId),
        _ => IsRegistered(hostId),
    };
}
