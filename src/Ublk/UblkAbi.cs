using System.Runtime.InteropServices;

namespace NovaStor.Ublk;

/// <summary>
/// The ublk driver's user-space ABI (include/uapi/linux/ublk_cmd.h): commands are io_uring
/// URING_CMDs whose cmd_op is ioctl-encoded (UBLK_F_CMD_IOCTL_ENCODE, 6.1+) and whose payload
/// sits in the 128-byte entry's command area.
/// </summary>
internal static class UblkAbi
{
    public const string ControlDevice = "/dev/ublk-control";

    public static string CharDevice(int deviceId) => $"/dev/ublkc{deviceId}";

    public static string BlockDevice(int deviceId) => $"/dev/ublkb{deviceId}";

    // Command numbers (the legacy values, encoded below with _IOR/_IOWR('u', nr, struct)).
    private const uint CmdGetDevInfo = 0x02, CmdAddDev = 0x04, CmdDelDev = 0x05, CmdStartDev = 0x06, CmdStopDev = 0x07, CmdSetParams = 0x08;
    private const uint CmdStartUserRecovery = 0x10, CmdEndUserRecovery = 0x11;
    private const uint IoFetchReq = 0x20, IoCommitAndFetchReq = 0x21;

    public static readonly uint GetDeviceInfo = Read(CmdGetDevInfo, ControlCommand.Size);
    public static readonly uint AddDevice = ReadWrite(CmdAddDev, ControlCommand.Size);
    public static readonly uint DeleteDevice = ReadWrite(CmdDelDev, ControlCommand.Size);
    public static readonly uint StartDevice = ReadWrite(CmdStartDev, ControlCommand.Size);
    public static readonly uint StopDevice = ReadWrite(CmdStopDev, ControlCommand.Size);
    public static readonly uint SetParameters = ReadWrite(CmdSetParams, ControlCommand.Size);
    public static readonly uint StartUserRecovery = ReadWrite(CmdStartUserRecovery, ControlCommand.Size);
    public static readonly uint EndUserRecovery = ReadWrite(CmdEndUserRecovery, ControlCommand.Size);
    public static readonly uint FetchRequest = ReadWrite(IoFetchReq, IoCommand.Size);
    public static readonly uint CommitAndFetchRequest = ReadWrite(IoCommitAndFetchReq, IoCommand.Size);

    // Device flags (UBLK_F_*).
    public const ulong FlagUserRecovery = 1ul << 3;
    /// <summary>With user recovery: requests the dead server had taken are sent to the new one (block writes may be repeated).</summary>
    public const ulong FlagUserRecoveryReissue = 1ul << 4;
    public const ulong FlagCommandIoctlEncode = 1ul << 6;

    // Request operations (ublksrv_io_desc.op_flags bits 0-7) and flags (bits 8-31, as UBLK_IO_F_*).
    public const byte OpRead = 0, OpWrite = 1, OpFlush = 2, OpDiscard = 3, OpWriteZeroes = 5;
    public const uint IoFlagFua = 1u << 13, IoFlagNoUnmap = 1u << 15;

    /// <summary>UBLK_IO_RES_ABORT: the device is going away; the tag is not fetched again.</summary>
    public const int ResultAbort = -19; // -ENODEV

    /// <summary>Each queue's descriptor array is mapped at q_id times this (UBLK_MAX_QUEUE_DEPTH descriptors, page-rounded).</summary>
    public const long DescriptorArrayStride = 4096L * IoDescriptor.Size;

    public const int MaxQueueDepth = 4096;

    // _IOC(dir, 'u', nr, size): dir in bits 30-31 (1 write, 2 read), size in bits 16-29, type in 8-15.
    private static uint Read(uint nr, int size) => (2u << 30) | ((uint)size << 16) | ('u' << 8) | nr;

    private static uint ReadWrite(uint nr, int size) => (3u << 30) | ((uint)size << 16) | ('u' << 8) | nr;
}

/// <summary>
/// struct ublksrv_ctrl_cmd (32 bytes), in the control command's SQE command area:
/// <code>
///  0  u32 dev_id        (-1: let the driver choose, ADD_DEV only)
///  4  u16 queue_id      (-1: not for a queue)
///  6  u16 len           bytes at addr
///  8  u64 addr          the command's buffer (dev_info, params), IN or OUT
/// 16  u64 data[1]       inline data (START_DEV: the server's pid)
/// 24  u16 dev_path_len  (unprivileged devices only)
/// 26  u16 pad
/// 28  u32 reserved
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct ControlCommand
{
    public const int Size = 32;

    [FieldOffset(0)] public uint DeviceId;
    [FieldOffset(4)] public ushort QueueId;
    [FieldOffset(6)] public ushort Length;
    [FieldOffset(8)] public ulong Address;
    [FieldOffset(16)] public ulong Data;
    [FieldOffset(24)] public ushort DevicePathLength;
}

/// <summary>
/// struct ublksrv_ctrl_dev_info (64 bytes): what ADD_DEV asks for and GET_DEV_INFO reports.
/// <code>
///  0  u16 nr_hw_queues     2 u16 queue_depth   4 u16 state   6 u16 pad0
///  8  u32 max_io_buf_bytes 12 u32 dev_id
/// 16  s32 ublksrv_pid      20 u32 pad1
/// 24  u64 flags            (UBLK_F_*)
/// 32  u64 ublksrv_flags    (the server's own; the driver keeps it)
/// 40  u32 owner_uid        44 u32 owner_gid  (set by the driver)
/// 48  u64 reserved1        56 u64 reserved2
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct DeviceInfo
{
    public const int Size = 64;

    public const ushort StateDead = 0, StateLive = 1, StateQuiesced = 2, StateFailIo = 3;

    [FieldOffset(0)] public ushort QueueCount;
    [FieldOffset(2)] public ushort QueueDepth;
    [FieldOffset(4)] public ushort State;
    [FieldOffset(8)] public uint MaxIoBufferBytes;
    [FieldOffset(12)] public uint DeviceId;
    [FieldOffset(16)] public int ServerPid;
    [FieldOffset(24)] public ulong Flags;
    [FieldOffset(32)] public ulong ServerFlags;
    [FieldOffset(40)] public uint OwnerUid;
    [FieldOffset(44)] public uint OwnerGid;
}

/// <summary>
/// struct ublksrv_io_desc (24 bytes), one per tag in the queue's shared, read-only descriptor array:
/// <code>
///  0  u32 op_flags      op in bits 0-7, UBLK_IO_F_* in 8-31
///  4  u32 nr_sectors    512-byte sectors
///  8  u64 start_sector
/// 16  u64 addr          the server's buffer this request uses (the one given at fetch)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct IoDescriptor
{
    public const int Size = 24;

    [FieldOffset(0)] public uint OpFlags;
    [FieldOffset(4)] public uint SectorCount;
    [FieldOffset(8)] public ulong StartSector;
    [FieldOffset(16)] public ulong Address;

    public readonly byte Operation => (byte)OpFlags;
}

/// <summary>
/// struct ublksrv_io_cmd (16 bytes), in the SQE command area of FETCH_REQ / COMMIT_AND_FETCH_REQ:
/// <code>
///  0  u16 q_id
///  2  u16 tag
///  4  s32 result   (COMMIT: bytes done, or -errno)
///  8  u64 addr     the buffer for this tag's requests (read data is copied from it at commit,
///                  write data into it before the request is delivered)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct IoCommand
{
    public const int Size = 16;

    [FieldOffset(0)] public ushort QueueId;
    [FieldOffset(2)] public ushort Tag;
    [FieldOffset(4)] public int Result;
    [FieldOffset(8)] public ulong Address;
}

/// <summary>
/// struct ublk_params, the parts set here (SET_PARAMS):
/// <code>
///   0  u32 len                      4  u32 types (UBLK_PARAM_TYPE_*)
///  basic (32 bytes, from 8):
///   8  u32 attrs (READ_ONLY 1, ROTATIONAL 2, VOLATILE_CACHE 4, FUA 8)
///  12  u8 logical_bs_shift  13 u8 physical_bs_shift  14 u8 io_opt_shift  15 u8 io_min_shift
///  16  u32 max_sectors      20 u32 chunk_sectors
///  24  u64 dev_sectors      32 u64 virt_boundary_mask
///  discard (20 bytes, from 40):
///  40  u32 discard_alignment  44 u32 discard_granularity  48 u32 max_discard_sectors
///  52  u32 max_write_zeroes_sectors  56 u16 max_discard_segments  58 u16 reserved0
/// </code>
/// Only the basic and discard parts are sent (len 60); the driver takes a shorter struct from older servers.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct DeviceParameters
{
    public const int Size = 60;

    public const uint TypeBasic = 1, TypeDiscard = 2;
    public const uint AttributeVolatileCache = 4, AttributeFua = 8;

    [FieldOffset(0)] public uint Length;
    [FieldOffset(4)] public uint Types;
    [FieldOffset(8)] public uint Attributes;
    [FieldOffset(12)] public byte LogicalBlockShift;
    [FieldOffset(13)] public byte PhysicalBlockShift;
    [FieldOffset(14)] public byte IoOptimalShift;
    [FieldOffset(15)] public byte IoMinimumShift;
    [FieldOffset(16)] public uint MaxSectors;
    [FieldOffset(20)] public uint ChunkSectors;
    [FieldOffset(24)] public ulong DeviceSectors;
    [FieldOffset(32)] public ulong VirtualBoundaryMask;
    [FieldOffset(40)] public uint DiscardAlignment;
    [FieldOffset(44)] public uint DiscardGranularity;
    [FieldOffset(48)] public uint MaxDiscardSectors;
    [FieldOffset(52)] public uint MaxWriteZeroesSectors;
    [FieldOffset(56)] public ushort MaxDiscardSegments;
}
