using System.Buffers.Binary;

namespace NovaStor.Protocol;

// I/O Command Set Independent Identify Namespace data structure (CNS 08h), 4096 bytes
// (NVMe Base 2.x; Linux struct nvme_id_ns_cs_indep):
//
//  offset size field
//  0      1    NSFEAT
//  1      1    NMIC
//  2      1    RESCAP
//  3      1    FPI
//  4      4    ANAGRPID
//  8      1    NSATTR
//  10     2    NVMSETID
//  12     2    ENDGID
//  14     1    NSTAT (bit 0: namespace ready)
//  15..   reserved (zero)

/// <summary>The I/O command set independent Identify Namespace data structure (CNS 08h).</summary>
public sealed class IdentifyCommandSetIndependentNamespaceData
{
    /// <summary>NSFEAT: namespace features.</summary>
    public byte Nsfeat { get; set; }

    /// <summary>NMIC: namespace multi-path I/O and sharing (bit 0 shared).</summary>
    public byte Nmic { get; set; }

    /// <summary>RESCAP: reservation capabilities.</summary>
    public byte Rescap { get; set; }

    /// <summary>FPI: format progress indicator.</summary>
    public byte Fpi { get; set; }

    /// <summary>ANAGRPID: ANA group identifier.</summary>
    public uint Anagrpid { get; set; }

    /// <summary>NSATTR: namespace attributes.</summary>
    public byte Nsattr { get; set; }

    /// <summary>NVMSETID: NVM set identifier.</summary>
    public ushort Nvmsetid { get; set; }

    /// <summary>ENDGID: endurance group identifier.</summary>
    public ushort Endgid { get; set; }

    /// <summary>NSTAT: namespace status (bit 0 ready).</summary>
    public byte Nstat { get; set; }

    /// <summary>Writes the 4096-byte structure into the start of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        WireText.RequireLength(destination, IdentifyCns.IdentifyDataLength, nameof(IdentifyCommandSetIndependentNamespaceData));
        Span<byte> d = destination[..IdentifyCns.IdentifyDataLength];
        d.Clear();
        d[0] = Nsfeat;
        d[1] = Nmic;
        d[2] = Rescap;
        d[3] = Fpi;
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Anagrpid);
        d[8] = Nsattr;
        BinaryPrimitives.WriteUInt16LittleEndian(d[10..], Nvmsetid);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], Endgid);
        d[14] = Nstat;
    }
}
