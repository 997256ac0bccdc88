using System.Buffers.Binary;

namespace NovaStor.Protocol;

// The reservation commands' dwords and data (NVMe Base 2.0, Reservation Register / Report /
// Acquire / Release):
//
// Register (0Dh)  CDW10: bits 2:0 RREGA, bit 3 IEKEY, bits 31:30 CPTPL
//                 data, 16 bytes: 0 u64 CRKEY (current key), 8 u64 NRKEY (new key)
// Report (0Eh)    CDW10: NUMD (dwords, 0-based); CDW11 bit 0 EDS (extended data structure)
// Acquire (11h)   CDW10: bits 2:0 RACQA, bit 3 IEKEY, bits 15:8 RTYPE
//                 data, 16 bytes: 0 u64 CRKEY, 8 u64 PRKEY (key to preempt)
// Release (15h)   CDW10: bits 2:0 RRELA, bit 3 IEKEY, bits 15:8 RTYPE
//                 data, 8 bytes: 0 u64 CRKEY

/// <summary>Decodes and encodes the reservation commands' CDW10/CDW11 fields and key data.</summary>
public static class ReservationCommandFields
{
    /// <summary>Data length of Register and Acquire (two keys).</summary>
    public const int TwoKeysLength = 16;

    /// <summary>Data length of Release (one key).</summary>
    public const int OneKeyLength = 8;

    private const uint IgnoreExistingKeyBit = 1u << 3;
    private const uint ExtendedDataStructureBit = 1u << 0;

    public static byte Action(uint cdw10) => (byte)(cdw10 & 0x7);

    public static bool IgnoreExistingKey(uint cdw10) => (cdw10 & IgnoreExistingKeyBit) != 0;

    public static byte Type(uint cdw10) => (byte)(cdw10 >> 8);

    public static PersistThroughPowerLossChange PersistChange(uint cdw10) => (PersistThroughPowerLossChange)(cdw10 >> 30);

    public static bool ExtendedDataStructure(uint cdw11) => (cdw11 & ExtendedDataStructureBit) != 0;

    /// <summary>CDW10 of Register.</summary>
    public static uint RegisterCdw10(ReservationRegisterAction action, bool ignoreExistingKey, PersistThroughPowerLossChange persist) =>
        (uint)action | (ignoreExistingKey ? IgnoreExistingKeyBit : 0) | ((uint)persist << 30);

    /// <summary>CDW10 of Acquire (action = RACQA) or Release (action = RRELA).</summary>
    public static uint AcquireOrReleaseCdw10(byte action, ReservationType type) => action | ((uint)type << 8);

    /// <summary>CDW11 of Report.</summary>
    public static uint ReportCdw11(bool extended) => extended ? ExtendedDataStructureBit : 0;

    /// <summary>The first key of the data (CRKEY).</summary>
    public static ulong CurrentKey(ReadOnlySpan<byte> data) => BinaryPrimitives.ReadUInt64LittleEndian(data);

    /// <summary>The second key of Register (NRKEY) or Acquire (PRKEY).</summary>
    public static ulong SecondKey(ReadOnlySpan<byte> data) => BinaryPrimitives.ReadUInt64LittleEndian(data[8..]);

    /// <summary>Writes the key data of Register, Acquire (two keys) or Release (one).</summary>
    public static void WriteKeys(Span<byte> destination, ulong currentKey, ulong? secondKey = null)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, currentKey);
        if (secondKey is { } second)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], second);
        }
    }
}
