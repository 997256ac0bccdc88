using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Identify Namespace data structure, NVM command set (CNS 00h), 4096 bytes, little endian
// (NVMe NVM Command Set spec "Identify Namespace Data Structure"; Linux struct nvme_id_ns).
//
//  offset size field          offset size field           offset size field
//  0      8    NSZE           38     2    NACWU           74     2    MSSRL
//  8      8    NCAP           40     2    NABSN           76     4    MCL
//  16     8    NUSE           42     2    NABO            80     1    MSRC
//  24     1    NSFEAT         44     2    NABSPF          92     4    ANAGRPID
//  25     1    NLBAF (0-based) 46    2    NOIOB           99     1    NSATTR
//  26     1    FLBAS          48     16   NVMCAP (u128)   100    2    NVMSETID
//  27     1    MC             64     2    NPWG            102    2    ENDGID
//  28     1    DPC            66     2    NPWA            104    16   NGUID
//  29     1    DPS            68     2    NPDG            120    8    EUI64
//  30     1    NMIC           70     2    NPDA            128    4*64 LBAF[0..63]
//  31     1    RESCAP         72     2    NOWS            384    3712 vendor specific (zero)
//  32     1    FPI
//  33     1    DLFEAT
//  34     2    NAWUN
//  36     2    NAWUPF
//
// LBA format descriptor (4 bytes, LBAF[n] at 128 + 4n): MS u16 @0 (metadata bytes per block),
// LBADS u8 @2 (log2 of the block size), RP @3 bits 1:0 (relative performance).
// Everything not listed is written as zero.

/// <summary>The Identify Namespace data structure for the NVM command set (CNS 00h).</summary>
public sealed class IdentifyNamespaceData
{
    /// <summary>The most LBA formats the structure can describe.</summary>
    public const int MaxLbaFormats = 64;

    /// <summary>NSZE: namespace size in logical blocks.</summary>
    public ulong Nsze { get; set; }

    /// <summary>NCAP: namespace capacity in logical blocks.</summary>
    public ulong Ncap { get; set; }

    /// <summary>NUSE: namespace utilization in logical blocks.</summary>
    public ulong Nuse { get; set; }

    /// <summary>NSFEAT: namespace features (<see cref="IdentifyNamespaceBits"/>).</summary>
    public byte Nsfeat { get; set; }

    /// <summary>NLBAF: number of LBA formats, 0-based; derived from <see cref="LbaFormats"/>.</summary>
    public byte Nlbaf => (byte)Math.Max(0, Math.Min(LbaFormats.Count, MaxLbaFormats) - 1);

    /// <summary>FLBAS: formatted LBA size (bits 3:0 and 6:5 the format index, bit 4 extended metadata).</summary>
    public byte Flbas { get; set; }

    /// <summary>MC: metadata capabilities.</summary>
    public byte Mc { get; set; }

    /// <summary>DPC: end-to-end data protection capabilities.</summary>
    public byte Dpc { get; set; }

    /// <summary>DPS: end-to-end data protection type settings.</summary>
    public byte Dps { get; set; }

    /// <summary>NMIC: namespace multi-path I/O and sharing (bit 0 shared).</summary>
    public byte Nmic { get; set; }

    /// <summary>RESCAP: reservation capabilities.</summary>
    public byte Rescap { get; set; }

    /// <summary>FPI: format progress indicator.</summary>
    public byte Fpi { get; set; }

    /// <summary>DLFEAT: deallocate logical block features.</summary>
    public byte Dlfeat { get; set; }

    /// <summary>NAWUN: namespace atomic write unit normal (0-based).</summary>
    public ushort Nawun { get; set; }

    /// <summary>NAWUPF: namespace atomic write unit power fail (0-based).</summary>
    public ushort Nawupf { get; set; }

    /// <summary>NACWU: namespace atomic compare and write unit (0-based).</summary>
    public ushort Nacwu { get; set; }

    /// <summary>NABSN: namespace atomic boundary size normal.</summary>
    public ushort Nabsn { get; set; }

    /// <summary>NABO: namespace atomic boundary offset.</summary>
    public ushort Nabo { get; set; }

    /// <summary>NABSPF: namespace atomic boundary size power fail.</summary>
    public ushort Nabspf { get; set; }

    /// <summary>NOIOB: namespace optimal I/O boundary in logical blocks (0 = none).</summary>
    public ushort Noiob { get; set; }

    /// <summary>NVMCAP: NVM capacity in bytes (128 bit).</summary>
    public UInt128 Nvmcap { get; set; }

    /// <summary>NPWG: preferred write granularity (0-based, logical blocks).</summary>
    public ushort Npwg { get; set; }

    /// <summary>NPWA: preferred write alignment (0-based, logical blocks).</summary>
    public ushort Npwa { get; set; }

    /// <summary>NPDG: preferred deallocate granularity (0-based, logical blocks).</summary>
    public ushort Npdg { get; set; }

    /// <summary>NPDA: preferred deallocate alignment (0-based, logical blocks).</summary>
    public ushort Npda { get; set; }

    /// <summary>NOWS: optimal write size (0-based, logical blocks).</summary>
    public ushort Nows { get; set; }

    /// <summary>MSSRL: maximum single source range length for Copy (logical blocks).</summary>
    public ushort Mssrl { get; set; }

    /// <summary>MCL: maximum copy length (logical blocks).</summary>
    public uint Mcl { get; set; }

    /// <summary>MSRC: maximum source range count for Copy (0-based).</summary>
    public byte Msrc { get; set; }

    /// <summary>ANAGRPID: ANA group identifier (0 only without ANA).</summary>
    public uint Anagrpid { get; set; }

    /// <summary>NSATTR: namespace attributes (bit 0 write protected).</summary>
    public byte Nsattr { get; set; }

    /// <summary>NVMSETID: NVM set identifier.</summary>
    public ushort Nvmsetid { get; set; }

    /// <summary>ENDGID: endurance group identifier.</summary>
    public ushort Endgid { get; set; }

    /// <summary>NGUID: namespace globally unique identifier, 16 bytes or empty (zero).</summary>
    public ReadOnlyMemory<byte> Nguid { get; set; }

    /// <summary>EUI64: IEEE extended unique identifier, 8 bytes or empty (zero).</summary>
    public ReadOnlyMemory<byte> Eui64 { get; set; }

    /// <summary>LBAF[0..]: the supported LBA formats, at most <see cref="MaxLbaFormats"/>.</summary>
    public IList<LbaFormat> LbaFormats { get; } = new List<LbaFormat>();

    /// <summary>Writes the 4096-byte structure into the start of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        WireText.RequireLength(destination, IdentifyCns.IdentifyDataLength, nameof(IdentifyNamespaceData));
        if (LbaFormats.Count > MaxLbaFormats)
        {
            throw new InvalidOperationException($"At most {MaxLbaFormats} LBA formats, not {LbaFormats.Count}.");
        }

        Span<byte> d = destination[..IdentifyCns.IdentifyDataLength];
        d.Clear();

        BinaryPrimitives.WriteUInt64LittleEndian(d[0..], Nsze);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Ncap);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Nuse);
        d[24] = Nsfeat;
        d[25] = Nlbaf;
        d[26] = Flbas;
        d[27] = Mc;
        d[28] = Dpc;
        d[29] = Dps;
        d[30] = Nmic;
        d[31] = Rescap;
        d[32] = Fpi;
        d[33] = Dlfeat;
        BinaryPrimitives.WriteUInt16LittleEndian(d[34..], Nawun);
        BinaryPrimitives.WriteUInt16LittleEndian(d[36..], Nawupf);
        BinaryPrimitives.WriteUInt16LittleEndian(d[38..], Nacwu);
        BinaryPrimitives.WriteUInt16LittleEndian(d[40..], Nabsn);
        BinaryPrimitives.WriteUInt16LittleEndian(d[42..], Nabo);
        BinaryPrimitives.WriteUInt16LittleEndian(d[44..], Nabspf);
        BinaryPrimitives.WriteUInt16LittleEndian(d[46..], Noiob);
        BinaryPrimitives.WriteUInt128LittleEndian(d[48..], Nvmcap);
        BinaryPrimitives.WriteUInt16LittleEndian(d[64..], Npwg);
        BinaryPrimitives.WriteUInt16LittleEndian(d[66..], Npwa);
        BinaryPrimitives.WriteUInt16LittleEndian(d[68..], Npdg);
        BinaryPrimitives.WriteUInt16LittleEndian(d[70..], Npda);
        BinaryPrimitives.WriteUInt16LittleEndian(d[72..], Nows);
        BinaryPrimitives.WriteUInt16LittleEndian(d[74..], Mssrl);
        BinaryPrimitives.WriteUInt32LittleEndian(d[76..], Mcl);
        d[80] = Msrc;
        BinaryPrimitives.WriteUInt32LittleEndian(d[92..], Anagrpid);
        d[99] = Nsattr;
        BinaryPrimitives.WriteUInt16LittleEndian(d[100..], Nvmsetid);
        BinaryPrimitives.WriteUInt16LittleEndian(d[102..], Endgid);
        WireText.WriteIdentifier(d.Slice(104, 16), Nguid.Span, nameof(Nguid));
        WireText.WriteIdentifier(d.Slice(120, 8), Eui64.Span, nameof(Eui64));

        for (int i = 0; i < LbaFormats.Count; i++)
        {
            LbaFormats[i].WriteTo(d.Slice(128 + (LbaFormat.Size * i), LbaFormat.Size));
        }
    }
}

/// <summary>An LBA format descriptor (4 bytes).</summary>
/// <param name="MetadataSize">MS: metadata bytes per logical block.</param>
/// <param name="DataSizeShift">LBADS: log2 of the logical block size (9 = 512, 12 = 4096).</param>
/// <param name="RelativePerformance">RP: bits 1:0 (0 best .. 3 degraded).</param>
public readonly record struct LbaFormat(ushort MetadataSize, byte DataSizeShift, byte RelativePerformance = 0)
{
    /// <summary>Bytes in one descriptor.</summary>
    public const int Size = 4;

    /// <summary>A format without metadata for a power-of-two block size.</summary>
    public static LbaFormat ForBlockSize(int blockSize)
    {
        if (blockSize < 512 || !int.IsPow2(blockSize))
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "A power of two >= 512 is required.");
        }

        return new LbaFormat(0, (byte)int.Log2(blockSize));
    }

    /// <summary>Writes the 4-byte descriptor.</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(destination, MetadataSize);
        destination[2] = DataSizeShift;
        destination[3] = (byte)(RelativePerformance & 0x3);
    }
}
