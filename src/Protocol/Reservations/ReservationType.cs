namespace NovaStor.Protocol;

/// <summary>Reservation types (RTYPE; NVMe Base 2.0, Reservations, figure "Reservation Type Encoding").</summary>
public enum ReservationType : byte
{
    /// <summary>No reservation held.</summary>
    None = 0,

    /// <summary>Only the holder writes; everyone reads.</summary>
    WriteExclusive = 1,

    /// <summary>Only the holder reads or writes.</summary>
    ExclusiveAccess = 2,

    /// <summary>Registrants write; everyone reads; one registrant holds it.</summary>
    WriteExclusiveRegistrantsOnly = 3,

    /// <summary>Only registrants read or write; one registrant holds it.</summary>
    ExclusiveAccessRegistrantsOnly = 4,

    /// <summary>Registrants write; everyone reads; every registrant is a holder.</summary>
    WriteExclusiveAllRegistrants = 5,

    /// <summary>Only registrants read or write; every registrant is a holder.</summary>
    ExclusiveAccessAllRegistrants = 6,
}

/// <summary>Reservation Register action (RREGA, CDW10 bits 2:0).</summary>
public enum ReservationRegisterAction : byte
{
    Register = 0,
    Unregister = 1,
    Replace = 2,
}

/// <summary>Reservation Acquire action (RACQA, CDW10 bits 2:0).</summary>
public enum ReservationAcquireAction : byte
{
    Acquire = 0,
    Preempt = 1,
    PreemptAndAbort = 2,
}

/// <summary>Reservation Release action (RRELA, CDW10 bits 2:0).</summary>
public enum ReservationReleaseAction : byte
{
    Release = 0,
    Clear = 1,
}

/// <summary>Change Persist Through Power Loss State (CPTPL, Register CDW10 bits 31:30).</summary>
public enum PersistThroughPowerLossChange : byte
{
    NoChange = 0,
    Reserved = 1,
    Clear = 2,
    Set = 3,
}

/// <summary>Reservation notification log page types (Reservation Notification Log, byte 8).</summary>
public enum ReservationNotificationType : byte
{
    /// <summary>An empty log page: nothing to report.</summary>
    Empty = 0,
    RegistrationPreempted = 1,
    ReservationReleased = 2,
    ReservationPreempted = 3,
}
