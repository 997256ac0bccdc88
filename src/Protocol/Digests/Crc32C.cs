using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using ArmCrc32 = System.Runtime.Intrinsics.Arm.Crc32;

namespace NovaStor.Protocol;

/// <summary>
/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the NVMe/TCP header and data digest:
/// seed 0xFFFFFFFF, final xor 0xFFFFFFFF, stored little endian.
/// </summary>
/// <remarks>
/// Uses the CPU's CRC32C instruction (SSE4.2 or ARMv8 CRC) through
/// <see cref="BitOperations.Crc32C(uint, ulong)"/>, 8 bytes a step, with three independent
/// streams on long buffers so that the instruction's latency is hidden; the three partial
/// CRCs are joined by a linear "append zeros" operator. Without the instruction a
/// slicing-by-8 table path is used. Nothing allocates.
/// <para>The state passed to <see cref="Update(uint, ReadOnlySpan{byte})"/> is the raw CRC
/// register (not inverted); start from <see cref="InitialState"/> and call
/// <see cref="Finish(uint)"/> once at the end.</para>
/// </remarks>
public static class Crc32C
{
    /// <summary>The register value before any byte (the CRC32C seed).</summary>
    public const uint InitialState = 0xFFFFFFFF;

    /// <summary>Size of a digest on the wire (HDGST / DDGST).</summary>
    public const int DigestLength = 4;

    /// <summary>The reflected Castagnoli polynomial.</summary>
    internal const uint Polynomial = 0x82F63B78;

    /// <summary>True when the CRC32C instruction is available (SSE4.2 or ARMv8 CRC).</summary>
    public static bool IsHardwareAccelerated { get; } = Sse42.IsSupported || ArmCrc32.IsSupported;

    /// <summary>CRC32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(InitialState, data));

    /// <summary>CRC32C of every segment of <paramref name="data"/>, in order.</summary>
    public static uint Compute(in ReadOnlySequence<byte> data) => Finish(Update(InitialState, data));

    /// <summary>Feeds <paramref name="data"/> into a running CRC register.</summary>
    public static uint Update(uint state, ReadOnlySpan<byte> data) =>
        IsHardwareAccelerated ? UpdateHardware(state, data) : UpdateSoftware(state, data);

    /// <summary>Feeds every segment of <paramref name="data"/> into a running CRC register.</summary>
    public static uint Update(uint state, in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment)
        {
            return Update(state, data.FirstSpan);
        }

        foreach (ReadOnlyMemory<byte> segment in data)
        {
            state = Update(state, segment.Span);
        }

        return state;
    }

    /// <summary>Turns a running register into the final CRC (xor 0xFFFFFFFF).</summary>
    public static uint Finish(uint state) => ~state;

    /// <summary>Writes a digest little endian into the first four bytes of <paramref name="destination"/>.</summary>
    public static void WriteDigest(Span<byte> destination, uint crc) =>
        BinaryPrimitives.WriteUInt32LittleEndian(destination, crc);

    /// <summary>Reads a little-endian digest from the first four bytes of <paramref name="source"/>.</summary>
    public static uint ReadDigest(ReadOnlySpan<byte> source) =>
        BinaryPrimitives.ReadUInt32LittleEndian(source);

    // ---------------------------------------------------------------------------------
    // Hardware path
    // ---------------------------------------------------------------------------------

    /// <summary>Bytes per stream in one round of the long three-stream loop.</summary>
    internal const int LongStride = 2048;

    /// <summary>Bytes per stream in one round of the short three-stream loop.</summary>
    internal const int ShortStride = 256;

    /// <summary>
    /// Hardware path: three interleaved streams while the buffer is long, then one stream.
    /// Correct on any platform (BitOperations falls back to software), fast only with the
    /// instruction.
    /// </summary>
    internal static uint UpdateHardware(uint crc, ReadOnlySpan<byte> data)
    {
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint remaining = (nuint)data.Length;

        if (remaining >= 3 * LongStride)
        {
            crc = ThreeWay(crc, ref p, ref remaining, LongStride, ZeroOperators.Long);
            p = ref Unsafe.Add(ref p, (nuint)data.Length - remaining);
        }

        if (remaining >= 3 * ShortStride)
        {
            nuint before = remaining;
            crc = ThreeWay(crc, ref p, ref remaining, ShortStride, ZeroOperators.Short);
            p = ref Unsafe.Add(ref p, before - remaining);
        }

        return SingleStream(crc, ref p, remaining);
    }

    /// <summary>Hardware path with a single stream only (the reference the three-way loop is tested against).</summary>
    internal static uint UpdateHardwareSingleStream(uint crc, ReadOnlySpan<byte> data) =>
        SingleStream(crc, ref MemoryMarshal.GetReference(data), (nuint)data.Length);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Read64(ref byte p, nuint offset)
    {
        ulong v = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, offset));
        return BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);
    }

    private static uint SingleStream(uint crc, ref byte p, nuint length)
    {
        nuint i = 0;
        for (; length - i >= 32; i += 32)
        {
            crc = BitOperations.Crc32C(crc, Read64(ref p, i));
            crc = BitOperations.Crc32C(crc, Read64(ref p, i + 8));
            crc = BitOperations.Crc32C(crc, Read64(ref p, i + 16));
            crc = BitOperations.Crc32C(crc, Read64(ref p, i + 24));
        }

        for (; length - i >= 8; i += 8)
        {
            crc = BitOperations.Crc32C(crc, Read64(ref p, i));
        }

        for (; i < length; i++)
        {
            crc = BitOperations.Crc32C(crc, Unsafe.Add(ref p, i));
        }

        return crc;
    }

    /// <summary>
    /// Processes whole rounds of 3 * <paramref name="stride"/> bytes. Stream A continues the
    /// running register, B and C start from zero; then
    /// crc = Z(Z(A) ^ B) ^ C where Z appends <paramref name="stride"/> zero bytes.
    /// </summary>
    private static uint ThreeWay(uint crc, ref byte p, ref nuint remaining, int stride, uint[] zeros)
    {
        nuint s = (nuint)stride;
        nuint offset = 0;
        while (remaining >= 3 * s)
        {
            uint a = crc;
            uint b = 0;
            uint c = 0;
            ref byte pa = ref Unsafe.Add(ref p, offset);
            ref byte pb = ref Unsafe.Add(ref pa, s);
            ref byte pc = ref Unsafe.Add(ref pb, s);
            for (nuint i = 0; i < s; i += 8)
            {
                a = BitOperations.Crc32C(a, Read64(ref pa, i));
                b = BitOperations.Crc32C(b, Read64(ref pb, i));
                c = BitOperations.Crc32C(c, Read64(ref pc, i));
            }

            crc = ApplyZeros(zeros, ApplyZeros(zeros, a) ^ b) ^ c;
            offset += 3 * s;
            remaining -= 3 * s;
        }

        return crc;
    }

    /// <summary>Applies a 4 x 256 "append zeros" operator table to a register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ApplyZeros(uint[] table, uint crc) =>
        table[(int)(crc & 0xFF)]
        ^ table[256 + (int)((crc >> 8) & 0xFF)]
        ^ table[512 + (int)((crc >> 16) & 0xFF)]
        ^ table[768 + (int)(crc >> 24)];

    /// <summary>
    /// Register after appending <paramref name="count"/> zero bytes (bitwise, slow; used to
    /// build the operator tables and by tests).
    /// </summary>
    internal static uint AppendZerosSlow(uint crc, int count)
    {
        for (int n = 0; n < count; n++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ Polynomial : crc >> 1;
            }
        }

        return crc;
    }

    /// <summary>Lazily built operator tables for the three-stream combine.</summary>
    private static class ZeroOperators
    {
        internal static readonly uint[] Long = Build(LongStride);
        internal static readonly uint[] Short = Build(ShortStride);

        private static uint[] Build(int zeroBytes)
        {
            // Appending zeros is linear over GF(2): compute the image of each of the 32 basis
            // bits once, then every table entry is the xor of the images of its set bits.
            Span<uint> basis = stackalloc uint[32];
            for (int bit = 0; bit < 32; bit++)
            {
                basis[bit] = AppendZerosSlow(1u << bit, zeroBytes);
            }

            uint[] table = new uint[4 * 256];
            for (int lane = 0; lane < 4; lane++)
            {
                for (int value = 0; value < 256; value++)
                {
                    uint image = 0;
                    for (int bit = 0; bit < 8; bit++)
                    {
                        if ((value & (1 << bit)) != 0)
                        {
                            image ^= basis[(lane * 8) + bit];
                        }
                    }

                    table[(lane * 256) + value] = image;
                }
            }

            return table;
        }
    }

    // ---------------------------------------------------------------------------------
    // Software path (slicing-by-8)
    // ---------------------------------------------------------------------------------

    /// <summary>Table-driven path used when the CPU has no CRC32C instruction.</summary>
    internal static uint UpdateSoftware(uint crc, ReadOnlySpan<byte> data)
    {
        uint[] t = SoftwareTable.Values;
        ref byte p = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint i = 0;

        for (; length - i >= 8; i += 8)
        {
            ulong v = Read64(ref p, i);
            uint lo = (uint)v ^ crc;
            uint hi = (uint)(v >> 32);
            crc = t[(7 * 256) + (int)(lo & 0xFF)]
                ^ t[(6 * 256) + (int)((lo >> 8) & 0xFF)]
                ^ t[(5 * 256) + (int)((lo >> 16) & 0xFF)]
                ^ t[(4 * 256) + (int)(lo >> 24)]
                ^ t[(3 * 256) + (int)(hi & 0xFF)]
                ^ t[(2 * 256) + (int)((hi >> 8) & 0xFF)]
                ^ t[256 + (int)((hi >> 16) & 0xFF)]
                ^ t[(int)(hi >> 24)];
        }

        for (; i < length; i++)
        {
            crc = t[(int)((crc ^ Unsafe.Add(ref p, i)) & 0xFF)] ^ (crc >> 8);
        }

        return crc;
    }

    private static class SoftwareTable
    {
        internal static readonly uint[] Values = Build();

        private static uint[] Build()
        {
            uint[] table = new uint[8 * 256];
            for (uint n = 0; n < 256; n++)
            {
                uint c = n;
                for (int k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? (c >> 1) ^ Polynomial : c >> 1;
                }

                table[n] = c;
            }

            for (int slice = 1; slice < 8; slice++)
            {
                for (int n = 0; n < 256; n++)
                {
                    uint previous = table[((slice - 1) * 256) + n];
                    table[(slice * 256) + n] = (previous >> 8) ^ table[(int)(previous & 0xFF)];
                }
            }

            return table;
        }
    }
}
