namespace NovaStor.Protocol;

/// <summary>Bit values of Identify Controller fields (NVMe Base 2.x, Identify Controller).</summary>
public static class IdentifyControllerBits
{
    /// <summary>CNTRLTYPE: I/O controller.</summary>
    public const byte ControllerTypeIo = 1;

    /// <summary>CNTRLTYPE: discovery controller.</summary>
    public const byte ControllerTypeDiscovery = 2;

    /// <summary>CNTRLTYPE: administrative controller.</summary>
    public const byte ControllerTypeAdministrative = 3;

    /// <summary>CMIC bit 0: the subsystem may have more than one port.</summary>
    public const byte CmicMultiPort = 1 << 0;

    /// <summary>CMIC bit 1: the subsystem may have more than one controller (needed for multipath).</summary>
    public const byte CmicMultiController = 1 << 1;

    /// <summary>CMIC bit 3: asymmetric namespace access reporting.</summary>
    public const byte CmicAna = 1 << 3;

    /// <summary>OAES bit 8: namespace attribute notices.</summary>
    public const uint OaesNamespaceAttributeNotices = 1u << 8;

    /// <summary>OAES bit 11: ANA change notices.</summary>
    public const uint OaesAnaChangeNotices = 1u << 11;

    /// <summary>OAES bit 31: discovery log page change notices.</summary>
    public const uint OaesDiscoveryLogChangeNotices = 1u << 31;

    /// <summary>CTRATT bit 0: 128-bit host identifier.</summary>
    public const uint CtrattHostId128 = 1u << 0;

    /// <summary>CTRATT bit 6: traffic based keep alive (TBKAS).</summary>
    public const uint CtrattTrafficBasedKeepAlive = 1u << 6;

    /// <summary>LPA bit 0: SMART log per namespace.</summary>
    public const byte LpaSmartPerNamespace = 1 << 0;

    /// <summary>LPA bit 1: commands supported and effects log.</summary>
    public const byte LpaCommandEffects = 1 << 1;

    /// <summary>LPA bit 2: extended data for Get Log Page (NUMDU, 64-bit offsets).</summary>
    public const byte LpaExtendedData = 1 << 2;

    /// <summary>ONCS bit 0: Compare.</summary>
    public const ushort OncsCompare = 1 << 0;

    /// <summary>ONCS bit 1: Write Uncorrectable.</summary>
    public const ushort OncsWriteUncorrectable = 1 << 1;

    /// <summary>ONCS bit 2: Dataset Management.</summary>
    public const ushort OncsDatasetManagement = 1 << 2;

    /// <summary>ONCS bit 3: Write Zeroes.</summary>
    public const ushort OncsWriteZeroes = 1 << 3;

    /// <summary>ONCS bit 4: Save field in Set/Get Features.</summary>
    public const ushort OncsSaveFeatures = 1 << 4;

    /// <summary>ONCS bit 5: reservations.</summary>
    public const ushort OncsReservations = 1 << 5;

    /// <summary>ONCS bit 7: Verify.</summary>
    public const ushort OncsVerify = 1 << 7;

    /// <summary>ONCS bit 8: Copy.</summary>
    public const ushort OncsCopy = 1 << 8;

    /// <summary>OCFS bit 0: copy descriptor format 0.</summary>
    public const ushort OcfsFormat0 = 1 << 0;

    /// <summary>VWC bit 0: a volatile write cache is present (enables Flush and FUA).</summary>
    public const byte VwcPresent = 1 << 0;

    /// <summary>VWC bits 2:1 = 11b: Flush with NSID FFFFFFFFh is supported.</summary>
    public const byte VwcFlushBroadcastSupported = 3 << 1;

    /// <summary>SGLS bits 1:0 = 01b: SGLs supported, no alignment requirement.</summary>
    public const uint SglsSupported = 1u << 0;

    /// <summary>SGLS bit 2: keyed SGL data block descriptor.</summary>
    public const uint SglsKeyedDataBlock = 1u << 2;

    /// <summary>SGLS bit 20: address field may be an offset (in-capsule data).</summary>
    public const uint SglsOffset = 1u << 20;

    /// <summary>FCATT bit 0: dynamic controller model clear (0 = dynamic, 1 = static).</summary>
    public const byte FcattStaticModel = 1 << 0;

    /// <summary>OFCS bit 0: Disconnect command supported.</summary>
    public const ushort OfcsDisconnect = 1 << 0;

    /// <summary>ANACAP bit 0: reports ANA optimized state.</summary>
    public const byte AnacapOptimized = 1 << 0;

    /// <summary>ANACAP bit 1: reports ANA non-optimized state.</summary>
    public const byte AnacapNonOptimized = 1 << 1;

    /// <summary>ANACAP bit 2: reports ANA inaccessible state.</summary>
    public const byte AnacapInaccessible = 1 << 2;

    /// <summary>ANACAP bit 3: reports ANA persistent loss state.</summary>
    public const byte AnacapPersistentLoss = 1 << 3;

    /// <summary>ANACAP bit 4: reports ANA change state.</summary>
    public const byte AnacapChange = 1 << 4;

    /// <summary>ANACAP bit 6: ANAGRPID does not change while the namespace is attached.</summary>
    public const byte AnacapGroupIdStatic = 1 << 6;

    /// <summary>ANACAP bit 7: ANAGRPID may be non-zero in Namespace Management.</summary>
    public const byte AnacapGroupIdNonZero = 1 << 7;

    /// <summary>DCTYPE: direct discovery controller.</summary>
    public const byte DiscoveryControllerTypeDirect = 1;

    /// <summary>DCTYPE: central discovery controller.</summary>
    public const byte DiscoveryControllerTypeCentral = 2;

    /// <summary>The VER field value for NVMe major.minor.tertiary.</summary>
    public static uint Version(int major, int minor, int tertiary = 0) =>
        ((uint)major << 16) | ((uint)(minor & 0xFF) << 8) | (uint)(tertiary & 0xFF);
}

/// <summary>Bit values of Identify Namespace fields.</summary>
public static class IdentifyNamespaceBits
{
    /// <summary>NSFEAT bit 0: thin provisioning (NCAP may be less than NSZE).</summary>
    public const byte NsfeatThinProvisioning = 1 << 0;

    /// <summary>NSFEAT bit 1: NAWUN, NAWUPF and NACWU are namespace specific.</summary>
    public const byte NsfeatNamespaceAtomics = 1 << 1;

    /// <summary>NSFEAT bit 2: deallocated or unwritten logical block error support.</summary>
    public const byte NsfeatDeallocatedError = 1 << 2;

    /// <summary>NSFEAT bit 3: NGUID/EUI64 are never reused.</summary>
    public const byte NsfeatIdentifierNotReused = 1 << 3;

    /// <summary>NSFEAT bit 4: NPWG, NPWA, NPDG, NPDA and NOWS are defined.</summary>
    public const byte NsfeatOptimalPerformance = 1 << 4;

    /// <summary>NMIC bit 0: the namespace may be attached to several controllers (multipath).</summary>
    public const byte NmicShared = 1 << 0;

    /// <summary>RESCAP bit 0: Persist Through Power Loss is supported.</summary>
    public const byte RescapPersistThroughPowerLoss = 1 << 0;

    /// <summary>RESCAP bits 6:1: the six reservation types (bit N for type N).</summary>
    public const byte RescapAllTypes = 0x7E;

    /// <summary>RESCAP bit 7: Ignore Existing Key behaves as NVMe 1.3 and later define it.</summary>
    public const byte RescapIgnoreExistingKey = 1 << 7;

    /// <summary>DLFEAT bits 2:0 = 001b: deallocated blocks read as all zeroes.</summary>
    public const byte DlfeatReadZeroes = 1;

    /// <summary>DLFEAT bit 3: Write Zeroes supports the deallocate bit.</summary>
    public const byte DlfeatWriteZeroesDeallocate = 1 << 3;

    /// <summary>DLFEAT bit 4: guard field of deallocated blocks is the CRC of the data.</summary>
    public const byte DlfeatGuardCrc = 1 << 4;

    /// <summary>NSATTR bit 0: the namespace is write protected.</summary>
    public const byte NsattrWriteProtected = 1 << 0;

    /// <summary>NSTAT bit 0 (CNS 08h): the namespace is ready.</summary>
    public const byte NstatReady = 1 << 0;

    /// <summary>FLBAS bit 4: metadata is transferred at the end of the data LBA (extended).</summary>
    public const byte FlbasExtendedMetadata = 1 << 4;
}
