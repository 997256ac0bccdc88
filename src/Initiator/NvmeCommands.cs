using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>Builds submission queue entries; CID and SGL are set when the command is sent.</summary>
public static class NvmeCommands
{
    public static SubmissionQueueEntry Connect(ushort queueId, ushort queueSizeZeroBased, uint keepAliveMs, byte attributes = 0) =>
        new ConnectCommand(0, queueId, queueSizeZeroBased, attributes, keepAliveMs).ToSubmissionQueueEntry(0, ConnectData.Length);

    public static SubmissionQueueEntry PropertyGet(uint offset, bool eightBytes) => new()
    {
        Opcode = AdminOpcode.Fabrics,
        NamespaceId = FabricsCommandType.PropertyGet,
        Cdw10 = eightBytes ? 1u : 0u,
        Cdw11 = offset,
    };

    public static SubmissionQueueEntry PropertySet(uint offset, uint value) => new()
    {
        Opcode = AdminOpcode.Fabrics,
        NamespaceId = FabricsCommandType.PropertySet,
        Cdw11 = offset,
        Cdw12 = value,
    };

    public static SubmissionQueueEntry Identify(byte cns, uint namespaceId = 0, byte commandSet = 0) => new()
    {
        Opcode = AdminOpcode.Identify,
        NamespaceId = namespaceId,
        Cdw10 = cns,
        Cdw11 = (uint)commandSet << 24,
    };

    /// <summary>Get Log Page of <paramref name="length"/> bytes (a multiple of 4) at <paramref name="offset"/>.</summary>
    public static SubmissionQueueEntry GetLogPage(byte logId, int length, ulong offset = 0, byte specific = 0, uint namespaceId = 0xFFFFFFFF)
    {
        uint dwords = (uint)(length / 4) - 1;
        return new SubmissionQueueEntry
        {
            Opcode = AdminOpcode.GetLogPage,
            NamespaceId = namespaceId,
            Cdw10 = logId | ((uint)specific << 8) | (dwords << 16),
            Cdw11 = dwords >> 16,
            Cdw12 = (uint)offset,
            Cdw13 = (uint)(offset >> 32),
        };
    }

    public static SubmissionQueueEntry SetFeatures(byte featureId, uint value) => new()
    {
        Opcode = AdminOpcode.SetFeatures,
        Cdw10 = featureId,
        Cdw11 = value,
    };

    public static SubmissionQueueEntry GetFeatures(byte featureId) => new()
    {
        Opcode = AdminOpcode.GetFeatures,
        Cdw10 = featureId,
    };

    public static SubmissionQueueEntry KeepAlive() => new() { Opcode = AdminOpcode.KeepAlive };

    public static SubmissionQueueEntry Read(uint namespaceId, ulong firstBlock, int blocks) => BlockCommand(IoOpcode.Read, namespaceId, firstBlock, blocks);

    public static SubmissionQueueEntry Write(uint namespaceId, ulong firstBlock, int blocks, bool forceUnitAccess = false)
    {
        var command = BlockCommand(IoOpcode.Write, namespaceId, firstBlock, blocks);
        command.Cdw12 |= forceUnitAccess ? 1u << 30 : 0;
        return command;
    }

    public static SubmissionQueueEntry Compare(uint namespaceId, ulong firstBlock, int blocks) => BlockCommand(IoOpcode.Compare, namespaceId, firstBlock, blocks);

    /// <summary>Verify (0Ch): the controller reads the blocks and moves no data; success says they are readable.</summary>
    public static SubmissionQueueEntry Verify(uint namespaceId, ulong firstBlock, int blocks) => BlockCommand(IoOpcode.Verify, namespaceId, firstBlock, blocks);

    public static SubmissionQueueEntry WriteZeroes(uint namespaceId, ulong firstBlock, int blocks, bool deallocate = false)
    {
        var command = BlockCommand(IoOpcode.WriteZeroes, namespaceId, firstBlock, blocks);
        command.Cdw12 |= deallocate ? 1u << 25 : 0;
        return command;
    }

    public static SubmissionQueueEntry Flush(uint namespaceId) => new() { Opcode = IoOpcode.Flush, NamespaceId = namespaceId };

    /// <summary>Dataset Management with <paramref name="ranges"/> 16-byte ranges; deallocate when asked.</summary>
    public static SubmissionQueueEntry DatasetManagement(uint namespaceId, int ranges, bool deallocate) => new()
    {
        Opcode = IoOpcode.DatasetManagement,
        NamespaceId = namespaceId,
        Cdw10 = (uint)(ranges - 1),
        Cdw11 = deallocate ? 1u << 2 : 0,
    };

    /// <summary>Copy (format 0) of <paramref name="ranges"/> 32-byte source ranges to <paramref name="destinationBlock"/>.</summary>
    public static SubmissionQueueEntry Copy(uint namespaceId, ulong destinationBlock, int ranges) => new()
    {
        Opcode = IoOpcode.Copy,
        NamespaceId = namespaceId,
        Cdw10 = (uint)destinationBlock,
        Cdw11 = (uint)(destinationBlock >> 32),
        Cdw12 = (uint)(ranges - 1),
    };

    /// <summary>Reservation Register (0Dh): 16 bytes of data (CRKEY, NRKEY) go with it.</summary>
    public static SubmissionQueueEntry ReservationRegister(uint namespaceId, ReservationRegisterAction action, bool ignoreExistingKey = false, PersistThroughPowerLossChange persist = PersistThroughPowerLossChange.NoChange) => new()
    {
        Opcode = IoOpcode.ReservationRegister,
        NamespaceId = namespaceId,
        Cdw10 = ReservationCommandFields.RegisterCdw10(action, ignoreExistingKey, persist),
    };

    /// <summary>Reservation Acquire (11h): 16 bytes of data (CRKEY, PRKEY) go with it.</summary>
    public static SubmissionQueueEntry ReservationAcquire(uint namespaceId, ReservationAcquireAction action, ReservationType type) => new()
    {
        Opcode = IoOpcode.ReservationAcquire,
        NamespaceId = namespaceId,
        Cdw10 = ReservationCommandFields.AcquireOrReleaseCdw10((byte)action, type),
    };

    /// <summary>Reservation Release (15h): 8 bytes of data (CRKEY) go with it.</summary>
    public static SubmissionQueueEntry ReservationRelease(uint namespaceId, ReservationReleaseAction action, ReservationType type) => new()
    {
        Opcode = IoOpcode.ReservationRelease,
        NamespaceId = namespaceId,
        Cdw10 = ReservationCommandFields.AcquireOrReleaseCdw10((byte)action, type),
    };

    /// <summary>Reservation Report (0Eh) of <paramref name="length"/> bytes (a multiple of 4); fabrics hosts ask for the extended structure.</summary>
    public static SubmissionQueueEntry ReservationReport(uint namespaceId, int length, bool extended = true) => new()
    {
        Opcode = IoOpcode.ReservationReport,
        NamespaceId = namespaceId,
        Cdw10 = (uint)(length / 4) - 1,
        Cdw11 = ReservationCommandFields.ReportCdw11(extended),
    };

    private static SubmissionQueueEntry BlockCommand(byte opcode, uint namespaceId, ulong firstBlock, int blocks) => new()
    {
        Opcode = opcode,
        NamespaceId = namespaceId,
        Cdw10 = (uint)firstBlock,
        Cdw11 = (uint)(firstBlock >> 32),
        Cdw12 = (uint)(blocks - 1),
    };
}
