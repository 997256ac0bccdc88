namespace NovaStor.Protocol;

/// <summary>The status values this project uses (NVMe Base 2.0 section 4.2.3, Fabrics 1.1 figure 27).</summary>
public static class StatusCodes
{
    // Generic command status (SCT 0).
    public static readonly NvmeStatus InvalidOpcode = Generic(0x01);
    public static readonly NvmeStatus InvalidField = Generic(0x02);
    public static readonly NvmeStatus CommandIdConflict = Generic(0x03);
    public static readonly NvmeStatus DataTransferError = Generic(0x04);
    public static readonly NvmeStatus InternalError = Generic(0x06);
    public static readonly NvmeStatus AbortRequested = Generic(0x07, doNotRetry: false);
    public static readonly NvmeStatus InvalidNamespace = Generic(0x0B);
    public static readonly NvmeStatus CommandSequenceError = Generic(0x0C);
    public static readonly NvmeStatus InvalidSglDescriptor = Generic(0x0D);
    public static readonly NvmeStatus SglDataLengthInvalid = Generic(0x0F);
    public static readonly NvmeStatus SglDescriptorTypeInvalid = Generic(0x11);
    public static readonly NvmeStatus SglOffsetInvalid = Generic(0x16);
    public static readonly NvmeStatus HostIdentifierInconsistentFormat = Generic(0x18);
    public static readonly NvmeStatus KeepAliveTimeoutInvalid = Generic(0x1A);
    public static readonly NvmeStatus TransientTransportError = Generic(0x22, doNotRetry: false);
    public static readonly NvmeStatus LbaOutOfRange = Generic(0x80);
    public static readonly NvmeStatus CapacityExceeded = Generic(0x81);
    public static readonly NvmeStatus ReservationConflict = Generic(0x83);

    // Command specific status (SCT 1).
    public static readonly NvmeStatus InvalidQueueIdentifier = CommandSpecific(0x01);
    public static readonly NvmeStatus InvalidQueueSize = CommandSpecific(0x02);
    public static readonly NvmeStatus AsyncEventRequestLimitExceeded = CommandSpecific(0x05);
    public static readonly NvmeStatus InvalidLogPage = CommandSpecific(0x09);
    public static readonly NvmeStatus FeatureNotSaveable = CommandSpecific(0x0D);
    public static readonly NvmeStatus FeatureNotChangeable = CommandSpecific(0x0E);
    public static readonly NvmeStatus CommandSizeLimitExceeded = CommandSpecific(0x83);
    public static readonly NvmeStatus ConnectIncompatibleFormat = CommandSpecific(0x80);
    public static readonly NvmeStatus ConnectControllerBusy = CommandSpecific(0x81);
    public static readonly NvmeStatus ConnectInvalidParameters = CommandSpecific(0x82);
    public static readonly NvmeStatus ConnectInvalidHost = CommandSpecific(0x84);

    /// <summary>The queue must complete in-band authentication first (Fabrics 1.1a; the Linux host re-authenticates on it).</summary>
    public static readonly NvmeStatus AuthenticationRequired = CommandSpecific(0x91);

    // Path related status (SCT 3): never DNR, so a multipath host retries on another path.
    public static readonly NvmeStatus AnaPersistentLoss = NvmeStatus.Of(StatusCodeType.PathRelated, 0x01, doNotRetry: false);
    public static readonly NvmeStatus AnaInaccessible = NvmeStatus.Of(StatusCodeType.PathRelated, 0x02, doNotRetry: false);
    public static readonly NvmeStatus AnaTransition = NvmeStatus.Of(StatusCodeType.PathRelated, 0x03, doNotRetry: false);

    // Media and data integrity errors (SCT 2).
    public static readonly NvmeStatus WriteFault = Media(0x80);
    public static readonly NvmeStatus UnrecoveredReadError = Media(0x81);
    public static readonly NvmeStatus CompareFailure = Media(0x85);

    private static NvmeStatus Generic(byte code, bool doNotRetry = true) => NvmeStatus.Of(StatusCodeType.Generic, code, doNotRetry);
    private static NvmeStatus CommandSpecific(byte code) => NvmeStatus.Of(StatusCodeType.CommandSpecific, code);
    private static NvmeStatus Media(byte code) => NvmeStatus.Of(StatusCodeType.MediaAndDataIntegrity, code);

    /// <summary>A readable name for logs and error messages; fabrics-specific names only make sense for Connect.</summary>
    public static string Describe(NvmeStatus status) => (status.CodeType, status.Code) switch
    {
        (StatusCodeType.Generic, 0x00) => "Success",
        (StatusCodeType.Generic, 0x01) => "Invalid Command Opcode",
        (StatusCodeType.Generic, 0x02) => "Invalid Field in Command",
        (StatusCodeType.Generic, 0x03) => "Command ID Conflict",
        (StatusCodeType.Generic, 0x04) => "Data Transfer Error",
        (StatusCodeType.Generic, 0x06) => "Internal Error",
        (StatusCodeType.Generic, 0x07) => "Command Abort Requested",
        (StatusCodeType.Generic, 0x0B) => "Invalid Namespace or Format",
        (StatusCodeType.Generic, 0x0C) => "Command Sequence Error",
        (StatusCodeType.Generic, 0x0D) => "Invalid SGL Segment Descriptor",
        (StatusCodeType.Generic, 0x0F) => "Data SGL Length Invalid",
        (StatusCodeType.Generic, 0x11) => "SGL Descriptor Type Invalid",
        (StatusCodeType.Generic, 0x16) => "SGL Offset Invalid",
        (StatusCodeType.Generic, 0x18) => "Host Identifier Inconsistent Format",
        (StatusCodeType.Generic, 0x1A) => "Keep Alive Timeout Invalid",
        (StatusCodeType.Generic, 0x22) => "Transient Transport Error",
        (StatusCodeType.Generic, 0x80) => "LBA Out of Range",
        (StatusCodeType.Generic, 0x81) => "Capacity Exceeded",
        (StatusCodeType.Generic, 0x83) => "Reservation Conflict",
        (StatusCodeType.CommandSpecific, 0x01) => "Invalid Queue Identifier",
        (StatusCodeType.CommandSpecific, 0x02) => "Invalid Queue Size",
        (StatusCodeType.CommandSpecific, 0x05) => "Asynchronous Event Request Limit Exceeded",
        (StatusCodeType.CommandSpecific, 0x09) => "Invalid Log Page",
        (StatusCodeType.CommandSpecific, 0x0D) => "Feature Identifier Not Saveable",
        (StatusCodeType.CommandSpecific, 0x0E) => "Feature Not Changeable",
        (StatusCodeType.CommandSpecific, 0x80) => "Connect Incompatible Format / Conflicting Attributes",
        (StatusCodeType.CommandSpecific, 0x81) => "Connect Controller Busy",
        (StatusCodeType.CommandSpecific, 0x82) => "Connect Invalid Parameters",
        (StatusCodeType.CommandSpecific, 0x83) => "Command Size Limit Exceeded",
        (StatusCodeType.CommandSpecific, 0x84) => "Connect Invalid Host",
        (StatusCodeType.CommandSpecific, 0x91) => "Authentication Required",
        (StatusCodeType.PathRelated, 0x01) => "Asymmetric Access Persistent Loss",
        (StatusCodeType.PathRelated, 0x02) => "Asymmetric Access Inaccessible",
        (StatusCodeType.PathRelated, 0x03) => "Asymmetric Access Transition",
        (StatusCodeType.MediaAndDataIntegrity, 0x80) => "Write Fault",
        (StatusCodeType.MediaAndDataIntegrity, 0x81) => "Unrecovered Read Error",
        (StatusCodeType.MediaAndDataIntegrity, 0x85) => "Compare Failure",
        _ => "Unknown Status",
    };
}
