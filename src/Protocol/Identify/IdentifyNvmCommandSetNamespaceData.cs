using System.Buffers.Binary;

namespace NovaStor.Protocol;

// I/O Command Set Specific Identify Namespace data structure for the NVM command set
// (CNS 05h, CSI 00h), 4096 bytes (NVM Command Set spec; Linux struct nvme_id_ns_nvm):
//
//  offset size field
//  0      8    LBSTM  logical block storage tag mask
//  8      1    PIC    protection information capabilities
//  12     4*64 ELBAF[0..63] extended LBA formats (bits 6:0 STS, 8:7 guard type)
//  268    4    NPDGL  preferred deallocate granularity large
//  272    4    NPRG   preferred read granularity
//  276    4    NPRA   preferred read alignment
//  280    4    NORS   optimal read size
//  284    4    NPDAL  preferred deallocate alignment large
//  288..  reserved (zero)

/// <summary>The NVM command set specific Identify Namespace data structure (CNS 05h, CSI 0). Mostly zero.</summary>
public sealed class IdentifyNvmCommandSetNamespaceData
{
    /// <summary>The most extended LBA formats the structure can describe.</summary>
    public const int MaxExtendedLbaFormats = 64;

    /// <summary>LBSTM: logical block storage tag mask.</summary>
    public ulong Lbstm { get; set; }

    /// <summary>PIC: protection information capabilities.</summary>
    public byte Pic { get; set; }

    /// <summary>ELBAF[0..]: extended LBA formats (one per LBA format of Identify Namespace).</summary>
    public IList<uint> Elbaf { get; } = new List<uint>();

    /// <summary>NPDGL: preferred deallocate granularity large (logical blocks).</summary>
    public uint Npdgl { get; set; }

    /// <summary>NPRG: preferred read granularity (logical blocks).</summary>
    public uint Nprg { get; set; }

    /// <summary>NPRA: preferred read alignment (logical blocks).</summary>
    public uint Npra { get; set; }

    /// <summary>NORS: optimal read size (logical blocks).</summary>
    public uint Nors { get; set; }

    /// <summary>NPDAL: preferred deallocate alignment large (logical blocks).</summary>
    public uint Npdal { get; set; }

    /// <summary>Writes the 4096-byte structure into the start of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        WireText.RequireLength(destination, IdentifyCns.IdentifyDataLength, nameof(IdentifyNvmCommandSetNamespaceData));
        if (Elbaf.Count > MaxExtendedLbaFormats)
        {
            throw new InvalidOperationException($"At most {MaxExtendedLbaFormats} extended LBA formats, not {Elbaf.Count}.");
        }

        Span<byte> d = destination[..IdentifyCns.IdentifyDataLength];
        d.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d[0..], Lbstm);
        d[8] = Pic;
        for (int i = 0; i < Elbaf.Count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d[(12 + (4 * i))..], Elbaf[i]);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(d[268..], Npdgl);
        BinaryPrimitives.WriteUInt32LittleEndian(d[272..], Nprg);
        BinaryPrimitives.WriteUInt32LittleEndian(d[276..], Npra);
        BinaryPrimitives.WriteUInt32LittleEndian(d[280..], Nors);
        BinaryPrimitives.WriteUInt32LittleEndian(d[284..], Npdal);
    }
}
