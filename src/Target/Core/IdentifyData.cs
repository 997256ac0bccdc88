using NovaStor.Protocol;

namespace NovaStor.Target.Core;

/// <summary>What a controller and its namespaces report through Identify.</summary>
internal static class IdentifyData
{
    public const string ModelNumber = "NovaStor";
    public static readonly string FirmwareRevision = typeof(IdentifyData).Assembly.GetName().Version?.ToString(3) ?? "0.6.0";

    /// <summary>RESCAP: all six reservation types, Persist Through Power Loss, IEKEY as NVMe 1.3 and later define it.</summary>
    private const byte ReservationCapabilities = IdentifyNamespaceBits.RescapPersistThroughPowerLoss | IdentifyNamespaceBits.RescapAllTypes | IdentifyNamespaceBits.RescapIgnoreExistingKey;

    /// <summary>KAS: keep-alive granularity in 100 ms units.</summary>
    private const ushort KeepAliveGranularity = 10;
    private const byte AnaTransitionTimeSeconds = 10;

    public static void WriteController(Span<byte> destination, Controller controller, TargetLimits limits)
    {
        var subsystem = controller.Subsystem;
        var data = new IdentifyControllerData
        {
            Sn = subsystem.SerialNumber,
            Mn = subsystem.ModelNumber,
            Fr = FirmwareRevision,
            Cntlid = controller.Id,
            Ver = ControllerProperties.VersionOf(2, 0),
            Mdts = limits.MaxDataTransferShift,
            Subnqn = subsystem.Nqn,
            Kas = KeepAliveGranularity,
            Aerl = Controller.MaxAsyncEventRequests - 1,
            Lpa = (byte)(IdentifyControllerBits.LpaExtendedData | (subsystem.IsDiscovery ? 0 : IdentifyControllerBits.LpaCommandEffects)),
            // FRMW: slot 1 read-only (bit 0), one slot (bits 3:1), as nvmet; the firmware slot log says the same.
            Frmw = subsystem.IsDiscovery ? (byte)0 : (byte)((1 << 1) | 1),
            Npss = 0,
            Sgls = IdentifyControllerBits.SglsSupported | IdentifyControllerBits.SglsOffset,
            // Discovery too: the Linux host compares its queue size (128 by default) with MAXCMD and logs
            // "clamping down" when MAXCMD is smaller; its discovery admin queue never holds more than 32.
            Maxcmd = (ushort)limits.MaxQueueEntries,
            Iorcsz = 1,
            Icdoff = 0,
            Msdbd = 1,
            PowerState0 = new PowerStateDescriptor(MaxPower: 0, Flags: 0, EntryLatency: 0, ExitLatency: 0),
        };

        if (subsystem.IsDiscovery)
        {
            data.Cntrltype = IdentifyControllerBits.ControllerTypeDiscovery;
            data.Ioccsz = 4;
        }
        else
        {
            data.Cntrltype = IdentifyControllerBits.ControllerTypeIo;
            data.Cmic = IdentifyControllerBits.CmicMultiPort | IdentifyControllerBits.CmicMultiController | IdentifyControllerBits.CmicAna;
            data.Oaes = IdentifyControllerBits.OaesNamespaceAttributeNotices | IdentifyControllerBits.OaesAnaChangeNotices;
            data.Ctratt = IdentifyControllerBits.CtrattHostId128;
            data.Elpe = ErrorInformationLog.Capacity - 1;
            data.Sqes = 0x66;
            data.Cqes = 0x44;
            data.Nn = Subsystem.MaxNamespaces;
            data.Mnan = Subsystem.MaxNamespaces;
            data.Oncs = IdentifyControllerBits.OncsCompare | IdentifyControllerBits.OncsDatasetManagement | IdentifyControllerBits.OncsWriteZeroes | IdentifyControllerBits.OncsCopy | IdentifyControllerBits.OncsVerify | IdentifyControllerBits.OncsReservations;
            data.Ocfs = IdentifyControllerBits.OcfsFormat0;
            // A volatile write cache exists (Flush and FUA matter); a broadcast flush (NSID FFFFFFFFh) is not supported.
            data.Vwc = IdentifyControllerBits.VwcPresent | (2 << 1);
            data.Ioccsz = (uint)((PduSizes.SubmissionQueueEntry + limits.InCapsuleDataSize) / 16);
            data.Anatt = AnaTransitionTimeSeconds;
            // The states a port can give a group (never "change": a state is set at once).
            data.Anacap = IdentifyControllerBits.AnacapOptimized | IdentifyControllerBits.AnacapNonOptimized | IdentifyControllerBits.AnacapInaccessible
                | IdentifyControllerBits.AnacapPersistentLoss | IdentifyControllerBits.AnacapGroupIdStatic | IdentifyControllerBits.AnacapGroupIdNonZero;
            data.Anagrpmax = TargetPort.MaxAnaGroups;
            data.Nanagrpid = TargetPort.MaxAnaGroups;
            data.Wctemp = 0;
            data.Cctemp = 0;
        }

        data.WriteTo(destination);
    }

    /// <param name="allocatedBlocks">
    /// Blocks holding data on a thin volume: reported as NUSE with NSFEAT's thin-provisioning bit;
    /// null reports the namespace fully allocated (NUSE = NCAP = NSZE), as a thick volume is.
    /// </param>
    public static void WriteNamespace(Span<byte> destination, Namespace ns, TargetLimits limits, ulong? allocatedBlocks = null)
    {
        var data = new IdentifyNamespaceData
        {
            Nsze = ns.BlockCount,
            // The whole size is always available to write (no capacity pool yet), so NCAP is NSZE.
            Ncap = ns.BlockCount,
            Nuse = allocatedBlocks ?? ns.BlockCount,
            Nsfeat = allocatedBlocks.HasValue ? IdentifyNamespaceBits.NsfeatThinProvisioning : (byte)0,
            Flbas = 0,
            Nmic = IdentifyNamespaceBits.NmicShared,
            Rescap = ReservationCapabilities,
            Dlfeat = ns.Volume.DeallocatedReadsZeroes ? (byte)(IdentifyNamespaceBits.DlfeatReadZeroes | IdentifyNamespaceBits.DlfeatWriteZeroesDeallocate) : (byte)0,
            Noiob = 0,
            Mssrl = IoCommands.MaxSingleSourceRangeLength(limits.MaxTransferBytes, ns),
            Mcl = (uint)IoCommands.MaxSingleSourceRangeLength(limits.MaxTransferBytes, ns) * IoCommands.MaxCopySourceRanges,
            Msrc = IoCommands.MaxCopySourceRanges - 1,
            Anagrpid = ns.AnaGroupId,
            Nguid = ns.Nguid,
        };
        data.LbaFormats.Add(new LbaFormat(0, ns.BlockSizeShift));
        data.WriteTo(destination);
    }

    public static void WriteCommandSetIndependentNamespace(Span<byte> destination, Namespace ns)
    {
        new IdentifyCommandSetIndependentNamespaceData
        {
            Nmic = IdentifyNamespaceBits.NmicShared,
            Rescap = ReservationCapabilities,
            Anagrpid = ns.AnaGroupId,
            // NSTAT bit 0: the Linux host ignores a namespace that is not reported ready.
            Nstat = IdentifyNamespaceBits.NstatReady,
        }.WriteTo(destination);
    }

    public static void WriteNvmCommandSetController(Span<byte> destination, TargetLimits limits)
    {
        new IdentifyNvmCommandSetControllerData
        {
            // Write Zeroes, Verify and DSM limits in units of the minimum page size, as MDTS is (0 = no limit).
            Vsl = 0,
            Wzsl = 0,
            Dmrl = 0,
            Dmrsl = 0,
            Dmsl = 0,
        }.WriteTo(destination);
    }
}
