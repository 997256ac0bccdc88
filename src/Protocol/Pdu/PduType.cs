namespace NovaStor.Protocol;

/// <summary>NVMe/TCP PDU types (NVMe/TCP Transport 1.0, section 3.6).</summary>
public enum PduType : byte
{
    InitializeConnectionRequest = 0x00,
    InitializeConnectionResponse = 0x01,
    HostToControllerTerminationRequest = 0x02,
    ControllerToHostTerminationRequest = 0x03,
    CapsuleCommand = 0x04,
    CapsuleResponse = 0x05,
    HostToControllerData = 0x06,
    ControllerToHostData = 0x07,
    ReadyToTransfer = 0x09,
}

/// <summary>Flags of the common header (byte 1).</summary>
[Flags]
public enum PduFlags : byte
{
    None = 0,
    /// <summary>HDGSTF: a header digest follows the header.</summary>
    HeaderDigest = 0x01,
    /// <summary>DDGSTF: a data digest follows the data.</summary>
    DataDigest = 0x02,
    /// <summary>LAST_PDU: the last data PDU of a transfer (C2HData, H2CData).</summary>
    LastPdu = 0x04,
    /// <summary>SUCCESS: a C2HData that also completes its command successfully (no CapsuleResp).</summary>
    Success = 0x08,
}

/// <summary>Fixed sizes of the NVMe/TCP wire format.</summary>
public static class PduSizes
{
    public const int CommonHeader = 8;
    public const int InitializeConnection = 128;
    public const int TerminationRequestHeader = 24;
    /// <summary>A termination request may carry up to 128 bytes of the offending header.</summary>
    public const int TerminationRequestMax = 152;
    public const int CapsuleCommandHeader = 72;
    public const int CapsuleResponse = 24;
    public const int DataHeader = 24;
    public const int ReadyToTransfer = 24;
    public const int Digest = 4;
    public const int SubmissionQueueEntry = 64;
    public const int CompletionQueueEntry = 16;

    /// <summary>The header length a PDU type must carry, or 0 for an unknown type.</summary>
    public static int HeaderLengthOf(PduType type) => type switch
    {
        PduType.InitializeConnectionRequest or PduType.InitializeConnectionResponse => InitializeConnection,
        PduType.HostToControllerTerminationRequest or PduType.ControllerToHostTerminationRequest => TerminationRequestHeader,
        PduType.CapsuleCommand => CapsuleCommandHeader,
        PduType.CapsuleResponse => CapsuleResponse,
        PduType.HostToControllerData or PduType.ControllerToHostData => DataHeader,
        PduType.ReadyToTransfer => ReadyToTransfer,
        _ => 0,
    };
}

/// <summary>Fatal error status carried by a termination request (NVMe/TCP 1.0, figure 23).</summary>
public enum FatalErrorStatus : ushort
{
    None = 0,
    InvalidHeaderField = 0x01,
    PduSequenceError = 0x02,
    HeaderDigestError = 0x03,
    DataTransferOutOfRange = 0x04,
    /// <summary>R2T limit exceeded, or a data transfer larger than the limit.</summary>
    DataTransferLimitExceeded = 0x05,
    UnsupportedParameter = 0x06,
}
