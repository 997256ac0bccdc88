namespace NovaStor.Protocol;

/// <summary>Status code types (SCT).</summary>
public enum StatusCodeType : byte
{
    Generic = 0,
    CommandSpecific = 1,
    MediaAndDataIntegrity = 2,
    PathRelated = 3,
}

/// <summary>
/// A command's status, without the phase tag: bits 7:0 SC, 10:8 SCT, 12:11 CRD, 13 More,
/// 14 DNR (the same encoding as the Linux kernel's NVME_SC_* values, so 0x184 reads as in
/// its sources). Errors are values on the I/O path, never exceptions.
/// </summary>
public readonly record struct NvmeStatus(ushort Value)
{
    private const ushort MoreBit = 1 << 13;
    private const ushort DoNotRetryBit = 1 << 14;

    public static readonly NvmeStatus Success = default;

    public byte Code => (byte)Value;
    public StatusCodeType CodeType => (StatusCodeType)((Value >> 8) & 0x7);
    public bool More => (Value & MoreBit) != 0;
    public bool DoNotRetry => (Value & DoNotRetryBit) != 0;
    public bool IsSuccess => (Value & 0x7FF) == 0;

    public static NvmeStatus Of(StatusCodeType type, byte code, bool doNotRetry = true) =>
        new((ushort)(code | ((int)type << 8) | (doNotRetry && !(type == 0 && code == 0) ? DoNotRetryBit : 0)));

    public NvmeStatus WithDoNotRetry() => new((ushort)(Value | DoNotRetryBit));

    public override string ToString() => IsSuccess
        ? "Success"
        : $"{StatusCodes.Describe(this)} (SCT {(int)CodeType:X}h SC {Code:X2}h{(DoNotRetry ? ", DNR" : "")})";
}
