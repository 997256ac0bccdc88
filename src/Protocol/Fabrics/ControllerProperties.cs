namespace NovaStor.Protocol;

/// <summary>
/// Controller properties reached by Fabrics Property Get/Set (NVMe Base 2.0 figure 33), and
/// the fields of CAP, CC and CSTS that a fabrics controller uses.
/// Property Get/Set SQE fields: ATTRIB byte 40 (bits 2:0: 0 = 4 bytes, 1 = 8 bytes),
/// OFST bytes 44..47, VALUE bytes 48..55 (Set only). Get returns the value in CQE DW0/DW1.
/// </summary>
public static class ControllerProperties
{
    public const uint Capabilities = 0x00;
    public const uint Version = 0x08;
    public const uint Configuration = 0x14;
    public const uint Status = 0x1C;
    public const uint SubsystemReset = 0x20;

    /// <summary>ATTRIB.SIZE 1 = an 8-byte property.</summary>
    public static bool IsEightBytes(in SubmissionQueueEntry sqe) => (sqe.Cdw10 & 0x7) == 1;

    public static uint Offset(in SubmissionQueueEntry sqe) => sqe.Cdw11;

    public static ulong SetValue(in SubmissionQueueEntry sqe) => sqe.Cdw12 | ((ulong)sqe.Cdw13 << 32);

    /// <summary>NVMe version register value for major.minor.tertiary.</summary>
    public static uint VersionOf(int major, int minor, int tertiary = 0) => (uint)((major << 16) | (minor << 8) | tertiary);

    /// <summary>
    /// CAP: MQES 15:0 (0-based), CQR 16, TO 31:24 (500 ms units), CSS 44:37 (bit 37 NVM command
    /// set, bit 43 I/O command sets), MPSMIN 51:48, MPSMAX 55:52 (both 0 = 4 KiB pages).
    /// </summary>
    public static ulong CapabilitiesOf(ushort maxQueueEntriesZeroBased, byte timeoutHalfSeconds, bool ioCommandSets) =>
        maxQueueEntriesZeroBased
        | (1UL << 16)
        | ((ulong)timeoutHalfSeconds << 24)
        | (1UL << 37)
        | (ioCommandSets ? 1UL << 43 : 0);
}

/// <summary>CC, the controller configuration property.</summary>
public readonly record struct ControllerConfiguration(uint Value)
{
    public bool Enable => (Value & 1) != 0;
    /// <summary>CSS bits 6:4: 000b NVM only, 110b all supported I/O command sets, 111b admin only.</summary>
    public int CommandSetSelected => (int)((Value >> 4) & 0x7);
    public int MemoryPageSize => (int)((Value >> 7) & 0xF);
    /// <summary>SHN bits 15:14: 00b none, 01b normal, 10b abrupt.</summary>
    public int ShutdownNotification => (int)((Value >> 14) & 0x3);
    public int IoSubmissionQueueEntrySize => (int)((Value >> 16) & 0xF);
    public int IoCompletionQueueEntrySize => (int)((Value >> 20) & 0xF);
}

/// <summary>CSTS, the controller status property.</summary>
[Flags]
public enum ControllerStatus : uint
{
    None = 0,
    Ready = 0x1,
    ControllerFatalStatus = 0x2,
    ShutdownOccurring = 0x1 << 2,
    ShutdownComplete = 0x2 << 2,
}
