using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Identify Controller data structure (CNS 01h), 4096 bytes, little endian
// (NVMe Base 2.x "Identify Controller Data Structure"; Linux struct nvme_id_ctrl).
//
//  offset size field                    offset size field
//  0      2    VID                      342    1    ANATT
//  2      2    SSVID                    343    1    ANACAP
//  4      20   SN   (ASCII, space pad)  344    4    ANAGRPMAX
//  24     40   MN   (ASCII, space pad)  348    4    NANAGRPID
//  64     8    FR   (ASCII, space pad)  512    1    SQES
//  72     1    RAB                      513    1    CQES
//  73     3    IEEE OUI (LE 24 bit)     514    2    MAXCMD
//  76     1    CMIC                     516    4    NN
//  77     1    MDTS                     520    2    ONCS
//  78     2    CNTLID                   522    2    FUSES
//  80     4    VER                      524    1    FNA
//  84     4    RTD3R                    525    1    VWC
//  88     4    RTD3E                    526    2    AWUN
//  92     4    OAES                     528    2    AWUPF
//  96     4    CTRATT                   530    1    ICSVSCC
//  100    2    RRLS                     531    1    NWPC
//  111    1    CNTRLTYPE                532    2    ACWU
//  112    16   FGUID                    534    2    OCFS
//  128    6    CRDT1..CRDT3 (3 x u16)   536    4    SGLS
//  256    2    OACS                     540    4    MNAN
//  258    1    ACL                      768    256  SUBNQN (UTF-8, NUL terminated)
//  259    1    AERL                     ---- Fabrics ----
//  260    1    FRMW                     1792   4    IOCCSZ (16-byte units)
//  261    1    LPA                      1796   4    IORCSZ (16-byte units)
//  262    1    ELPE                     1800   2    ICDOFF (16-byte units)
//  263    1    NPSS                     1802   1    FCATT
//  264    1    AVSCC                    1803   1    MSDBD
//  265    1    APSTA                    1804   2    OFCS
//  266    2    WCTEMP (Kelvin)          1806   1    DCTYPE
//  268    2    CCTEMP (Kelvin)          2048   32   PSD0 (power state 0)
//  320    2    KAS (100 ms units)       2080.. PSD1..31, 3072 vendor specific (zero)
//
// Everything not listed is written as zero.

/// <summary>The Identify Controller data structure (CNS 01h). Property names are the spec mnemonics.</summary>
public sealed class IdentifyControllerData
{
    /// <summary>VID: PCI vendor ID.</summary>
    public ushort Vid { get; set; }

    /// <summary>SSVID: PCI subsystem vendor ID.</summary>
    public ushort Ssvid { get; set; }

    /// <summary>SN: serial number, up to 20 ASCII characters (space padded).</summary>
    public string Sn { get; set; } = string.Empty;

    /// <summary>MN: model number, up to 40 ASCII characters (space padded).</summary>
    public string Mn { get; set; } = string.Empty;

    /// <summary>FR: firmware revision, up to 8 ASCII characters (space padded).</summary>
    public string Fr { get; set; } = string.Empty;

    /// <summary>RAB: recommended arbitration burst (power of two).</summary>
    public byte Rab { get; set; }

    /// <summary>IEEE: organization unique identifier, low 24 bits, stored little endian.</summary>
    public uint IeeeOui { get; set; }

    /// <summary>CMIC: multi-path I/O and namespace sharing capabilities (<see cref="IdentifyControllerBits"/>).</summary>
    public byte Cmic { get; set; }

    /// <summary>MDTS: maximum data transfer size, 2^n units of the minimum page size (4 KiB); 0 = no limit.</summary>
    public byte Mdts { get; set; }

    /// <summary>CNTLID: controller ID (must equal the Connect result).</summary>
    public ushort Cntlid { get; set; }

    /// <summary>VER: NVMe version (<see cref="IdentifyControllerBits.Version"/>).</summary>
    public uint Ver { get; set; }

    /// <summary>RTD3R: RTD3 resume latency in microseconds.</summary>
    public uint Rtd3r { get; set; }

    /// <summary>RTD3E: RTD3 entry latency in microseconds.</summary>
    public uint Rtd3e { get; set; }

    /// <summary>OAES: optional asynchronous events supported.</summary>
    public uint Oaes { get; set; }

    /// <summary>CTRATT: controller attributes.</summary>
    public uint Ctratt { get; set; }

    /// <summary>RRLS: read recovery levels supported.</summary>
    public ushort Rrls { get; set; }

    /// <summary>CNTRLTYPE: 1 I/O, 2 discovery, 3 administrative.</summary>
    public byte Cntrltype { get; set; }

    /// <summary>FGUID: FRU globally unique identifier, 16 bytes or empty (zero).</summary>
    public ReadOnlyMemory<byte> Fguid { get; set; }

    /// <summary>CRDT1: command retry delay time 1 (100 ms units).</summary>
    public ushort Crdt1 { get; set; }

    /// <summary>CRDT2: command retry delay time 2 (100 ms units).</summary>
    public ushort Crdt2 { get; set; }

    /// <summary>CRDT3: command retry delay time 3 (100 ms units).</summary>
    public ushort Crdt3 { get; set; }

    /// <summary>OACS: optional admin command support.</summary>
    public ushort Oacs { get; set; }

    /// <summary>ACL: abort command limit (0-based).</summary>
    public byte Acl { get; set; }

    /// <summary>AERL: asynchronous event request limit (0-based).</summary>
    public byte Aerl { get; set; }

    /// <summary>FRMW: firmware updates.</summary>
    public byte Frmw { get; set; }

    /// <summary>LPA: log page attributes.</summary>
    public byte Lpa { get; set; }

    /// <summary>ELPE: error log page entries (0-based).</summary>
    public byte Elpe { get; set; }

    /// <summary>NPSS: number of power states supported (0-based).</summary>
    public byte Npss { get; set; }

    /// <summary>AVSCC: admin vendor specific command configuration.</summary>
    public byte Avscc { get; set; }

    /// <summary>APSTA: autonomous power state transition attributes.</summary>
    public byte Apsta { get; set; }

    /// <summary>WCTEMP: warning composite temperature threshold (Kelvin).</summary>
    public ushort Wctemp { get; set; }

    /// <summary>CCTEMP: critical composite temperature threshold (Kelvin).</summary>
    public ushort Cctemp { get; set; }

    /// <summary>KAS: keep alive support, granularity in 100 ms units (non-zero for I/O controllers).</summary>
    public ushort Kas { get; set; }

    /// <summary>ANATT: ANA transition time in seconds.</summary>
    public byte Anatt { get; set; }

    /// <summary>ANACAP: ANA capabilities.</summary>
    public byte Anacap { get; set; }

    /// <summary>ANAGRPMAX: largest ANA group ID.</summary>
    public uint Anagrpmax { get; set; }

    /// <summary>NANAGRPID: number of ANA group IDs.</summary>
    public uint Nanagrpid { get; set; }

    /// <summary>SQES: submission queue entry size, bits 3:0 required, 7:4 maximum (log2; 6 = 64 bytes).</summary>
    public byte Sqes { get; set; }

    /// <summary>CQES: completion queue entry size, bits 3:0 required, 7:4 maximum (log2; 4 = 16 bytes).</summary>
    public byte Cqes { get; set; }

    /// <summary>MAXCMD: maximum outstanding commands per queue.</summary>
    public ushort Maxcmd { get; set; }

    /// <summary>NN: number of namespaces (largest valid NSID).</summary>
    public uint Nn { get; set; }

    /// <summary>ONCS: optional NVM command support.</summary>
    public ushort Oncs { get; set; }

    /// <summary>FUSES: fused operation support.</summary>
    public ushort Fuses { get; set; }

    /// <summary>FNA: format NVM attributes.</summary>
    public byte Fna { get; set; }

    /// <summary>VWC: volatile write cache.</summary>
    public byte Vwc { get; set; }

    /// <summary>AWUN: atomic write unit normal (0-based, logical blocks).</summary>
    public ushort Awun { get; set; }

    /// <summary>AWUPF: atomic write unit power fail (0-based, logical blocks).</summary>
    public ushort Awupf { get; set; }

    /// <summary>ICSVSCC: I/O command set vendor specific command configuration.</summary>
    public byte Icsvscc { get; set; }

    /// <summary>NWPC: namespace write protection capabilities.</summary>
    public byte Nwpc { get; set; }

    /// <summary>ACWU: atomic compare and write unit (0-based).</summary>
    public ushort Acwu { get; set; }

    /// <summary>OCFS: optional copy formats supported.</summary>
    public ushort Ocfs { get; set; }

    /// <summary>SGLS: SGL support.</summary>
    public uint Sgls { get; set; }

    /// <summary>MNAN: maximum number of allowed namespaces (non-zero with ANA).</summary>
    public uint Mnan { get; set; }

    /// <summary>SUBNQN: NVM subsystem NQN (UTF-8, at most 255 bytes).</summary>
    public string Subnqn { get; set; } = string.Empty;

    /// <summary>IOCCSZ: I/O queue command capsule supported size in 16-byte units (>= 4).</summary>
    public uint Ioccsz { get; set; }

    /// <summary>IORCSZ: I/O queue response capsule supported size in 16-byte units (>= 1).</summary>
    public uint Iorcsz { get; set; }

    /// <summary>ICDOFF: in-capsule data offset in 16-byte units (0).</summary>
    public ushort Icdoff { get; set; }

    /// <summary>FCATT: fabrics controller attributes (bit 0 static controller model).</summary>
    public byte Fcatt { get; set; }

    /// <summary>MSDBD: maximum SGL data block descriptors per command.</summary>
    public byte Msdbd { get; set; }

    /// <summary>OFCS: optional fabric commands supported.</summary>
    public ushort Ofcs { get; set; }

    /// <summary>DCTYPE: discovery controller type (discovery controllers only).</summary>
    public byte Dctype { get; set; }

    /// <summary>PSD0: power state descriptor 0.</summary>
    public PowerStateDescriptor PowerState0 { get; set; }

    /// <summary>Writes the 4096-byte structure into the start of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        WireText.RequireLength(destination, IdentifyCns.IdentifyDataLength, nameof(IdentifyControllerData));
        Span<byte> d = destination[..IdentifyCns.IdentifyDataLength];
        d.Clear();

        BinaryPrimitives.WriteUInt16LittleEndian(d[0..], Vid);
        BinaryPrimitives.WriteUInt16LittleEndian(d[2..], Ssvid);
        WireText.WriteAsciiPadded(d.Slice(4, 20), Sn, (byte)' ');
        WireText.WriteAsciiPadded(d.Slice(24, 40), Mn, (byte)' ');
        WireText.WriteAsciiPadded(d.Slice(64, 8), Fr, (byte)' ');
        d[72] = Rab;
        d[73] = (byte)IeeeOui;
        d[74] = (byte)(IeeeOui >> 8);
        d[75] = (byte)(IeeeOui >> 16);
        d[76] = Cmic;
        d[77] = Mdts;
        BinaryPrimitives.WriteUInt16LittleEndian(d[78..], Cntlid);
        BinaryPrimitives.WriteUInt32LittleEndian(d[80..], Ver);
        BinaryPrimitives.WriteUInt32LittleEndian(d[84..], Rtd3r);
        BinaryPrimitives.WriteUInt32LittleEndian(d[88..], Rtd3e);
        BinaryPrimitives.WriteUInt32LittleEndian(d[92..], Oaes);
        BinaryPrimitives.WriteUInt32LittleEndian(d[96..], Ctratt);
        BinaryPrimitives.WriteUInt16LittleEndian(d[100..], Rrls);
        d[111] = Cntrltype;
        WireText.WriteIdentifier(d.Slice(112, 16), Fguid.Span, nameof(Fguid));
        BinaryPrimitives.WriteUInt16LittleEndian(d[128..], Crdt1);
        BinaryPrimitives.WriteUInt16LittleEndian(d[130..], Crdt2);
        BinaryPrimitives.WriteUInt16LittleEndian(d[132..], Crdt3);

        BinaryPrimitives.WriteUInt16LittleEndian(d[256..], Oacs);
        d[258] = Acl;
        d[259] = Aerl;
        d[260] = Frmw;
        d[261] = Lpa;
        d[262] = Elpe;
        d[263] = Npss;
        d[264] = Avscc;
        d[265] = Apsta;
        BinaryPrimitives.WriteUInt16LittleEndian(d[266..], Wctemp);
        BinaryPrimitives.WriteUInt16LittleEndian(d[268..], Cctemp);
        BinaryPrimitives.WriteUInt16LittleEndian(d[320..], Kas);
        d[342] = Anatt;
        d[343] = Anacap;
        BinaryPrimitives.WriteUInt32LittleEndian(d[344..], Anagrpmax);
        BinaryPrimitives.WriteUInt32LittleEndian(d[348..], Nanagrpid);

        d[512] = Sqes;
        d[513] = Cqes;
        BinaryPrimitives.WriteUInt16LittleEndian(d[514..], Maxcmd);
        BinaryPrimitives.WriteUInt32LittleEndian(d[516..], Nn);
        BinaryPrimitives.WriteUInt16LittleEndian(d[520..], Oncs);
        BinaryPrimitives.WriteUInt16LittleEndian(d[522..], Fuses);
        d[524] = Fna;
        d[525] = Vwc;
        BinaryPrimitives.WriteUInt16LittleEndian(d[526..], Awun);
        BinaryPrimitives.WriteUInt16LittleEndian(d[528..], Awupf);
        d[530] = Icsvscc;
        d[531] = Nwpc;
        BinaryPrimitives.WriteUInt16LittleEndian(d[532..], Acwu);
        BinaryPrimitives.WriteUInt16LittleEndian(d[534..], Ocfs);
        BinaryPrimitives.WriteUInt32LittleEndian(d[536..], Sgls);
        BinaryPrimitives.WriteUInt32LittleEndian(d[540..], Mnan);

        WireText.WriteNqn(d.Slice(768, 256), Subnqn, nameof(Subnqn));

        BinaryPrimitives.WriteUInt32LittleEndian(d[1792..], Ioccsz);
        BinaryPrimitives.WriteUInt32LittleEndian(d[1796..], Iorcsz);
        BinaryPrimitives.WriteUInt16LittleEndian(d[1800..], Icdoff);
        d[1802] = Fcatt;
        d[1803] = Msdbd;
        BinaryPrimitives.WriteUInt16LittleEndian(d[1804..], Ofcs);
        d[1806] = Dctype;

        PowerState0.WriteTo(d.Slice(2048, PowerStateDescriptor.Size));
    }
}

// Power state descriptor, 32 bytes (PSD0 at 2048 in Identify Controller):
//  0  u16 MP (max power)      3  bit0 MXPS, bit1 NOPS     4  u32 ENLAT (us)   8  u32 EXLAT (us)
//  12 RRT  13 RRL  14 RWT  15 RWL (bits 4:0)               16 u16 IDLP   18 IPS (bits 7:6)
//  20 u16 ACTP   22 APW (bits 2:0) | APS (bits 7:6)        rest reserved

/// <summary>An Identify Controller power state descriptor.</summary>
/// <param name="MaxPower">MP: maximum power (centiwatts when MXPS is 0).</param>
/// <param name="Flags">Byte 3: bit 0 MXPS (max power scale), bit 1 NOPS (non-operational).</param>
/// <param name="EntryLatency">ENLAT: entry latency in microseconds.</param>
/// <param name="ExitLatency">EXLAT: exit latency in microseconds.</param>
/// <param name="RelativeReadThroughput">RRT.</param>
/// <param name="RelativeReadLatency">RRL.</param>
/// <param name="RelativeWriteThroughput">RWT.</param>
/// <param name="RelativeWriteLatency">RWL.</param>
/// <param name="IdlePower">IDLP.</param>
/// <param name="IdlePowerScale">IPS (byte 18, already shifted into bits 7:6).</param>
/// <param name="ActivePower">ACTP.</param>
/// <param name="ActivePowerWorkloadAndScale">Byte 22: APW (bits 2:0) and APS (bits 7:6).</param>
public readonly record struct PowerStateDescriptor(
    ushort MaxPower,
    byte Flags,
    uint EntryLatency,
    uint ExitLatency,
    byte RelativeReadThroughput = 0,
    byte RelativeReadLatency = 0,
    byte RelativeWriteThroughput = 0,
    byte RelativeWriteLatency = 0,
    ushort IdlePower = 0,
    byte IdlePowerScale = 0,
    ushort ActivePower = 0,
    byte ActivePowerWorkloadAndScale = 0)
{
    /// <summary>Bytes in one descriptor.</summary>
    public const int Size = 32;

    /// <summary>Writes the 32-byte descriptor.</summary>
    public void WriteTo(Span<byte> destination)
    {
        WireText.RequireLength(destination, Size, nameof(PowerStateDescriptor));
        Span<byte> d = destination[..Size];
        d.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(d, MaxPower);
        d[3] = Flags;
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], EntryLatency);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], ExitLatency);
        d[12] = RelativeReadThroughput;
        d[13] = RelativeReadLatency;
        d[14] = RelativeWriteThroughput;
        d[15] = RelativeWriteLatency;
        BinaryPrimitives.WriteUInt16LittleEndian(d[16..], IdlePower);
        d[18] = IdlePowerScale;
        BinaryPrimitives.WriteUInt16LittleEndian(d[20..], ActivePower);
        d[22] = ActivePowerWorkloadAndScale;
    }
}
