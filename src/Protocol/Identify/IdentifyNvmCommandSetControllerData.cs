using System.Buffers.Binary;

namespace NovaStor.Protocol;

// I/O Command Set Specific Identify Controller data structure for the NVM command set
// (CNS 06h, CSI 00h), 4096 bytes (NVM Command Set spec; Linux struct nvme_id_ctrl_nvm):
//
//  offset size field
//  0      1    VSL   Verify size limit (2^n minimum pages, 0 = no limit)
//  1      1    WZSL  Write Zeroes size limit (2^n minimum pages, 0 = no limit)
//  2      1    WUSL  Write Uncorrectable size limit
//  3      1    DMRL  Dataset Management ranges limit (0 = no limit)
//  4      4    DMRSL Dataset Management range size limit (logical blocks, 0 = no limit)
//  8      8    DMSL  Dataset Management size limit (logical blocks, 0 = no limit)
//  16..   reserved (zero)

/// <summary>The NVM command set specific Identify Controller data structure (CNS 06h, CSI 0).</summary>
public sealed class IdentifyNvmCommandSetControllerData
{
    /// <summary>VSL: Verify size limit.</summary>
    public byte Vsl { get; set; }

    /// <summary>WZSL: Write Zeroes size limit.</summary>
    public byte Wzsl { get; set; }

    /// <summary>WUSL: Write Uncorrectable size limit.</summary>
    public byte Wusl { get; set; }

    /// <summary>DMRL: Dataset Management ranges limit.</summary>
    public byte Dmrl { get; set; }

    /// <summary>DMRSL: Dataset Management range size limit.</summary>
    public uint Dmrsl { get; set; }

    /// <summary>DMSL: Dataset Management size limit.</summary>
    public ulong Dmsl { get; set; }

    /// <summary>Writes the 4096-byte structure into the start of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        WireText.RequireLength(destination, IdentifyCns.IdentifyDataLength, nameof(IdentifyNvmCommandSetControllerData));
        Span<byte> d = destination[..IdentifyCns.IdentifyDataLength];
        d.Clear();
        d[0] = Vsl;
        d[1] = Wzsl;
        d[2] = Wusl;
        d[3] = Dmrl;
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Dmrsl);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Dmsl);
    }
}
