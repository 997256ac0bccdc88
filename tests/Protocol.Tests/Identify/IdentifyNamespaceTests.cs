using System.Buffers.Binary;
using Xunit;

namespace NovaStor.Protocol.Tests.Identify;

public sealed class IdentifyNamespaceTests
{
    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    private static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    private static byte[] Filled()
    {
        byte[] b = new byte[4096];
        b.AsSpan().Fill(0xCC);
        return b;
    }

    [Fact]
    public void IdentifyNamespaceFieldsAtSpecOffsets()
    {
        byte[] nguid = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        byte[] eui = Enumerable.Range(0x41, 8).Select(i => (byte)i).ToArray();
        IdentifyNamespaceData data = new()
        {
            Nsze = 0x0102030405060708,
            Ncap = 0x1112131415161718,
            Nuse = 0x2122232425262728,
            Nsfeat = IdentifyNamespaceBits.NsfeatThinProvisioning | IdentifyNamespaceBits.NsfeatOptimalPerformance,
            Flbas = 1,
            Mc = 2,
            Dpc = 3,
            Dps = 4,
            Nmic = IdentifyNamespaceBits.NmicShared,
            Rescap = 5,
            Fpi = 6,
            Dlfeat = IdentifyNamespaceBits.DlfeatReadZeroes | IdentifyNamespaceBits.DlfeatWriteZeroesDeallocate,
            Nawun = 0x0A01,
            Nawupf = 0x0A02,
            Nacwu = 0x0A03,
            Nabsn = 0x0A04,
            Nabo = 0x0A05,
            Nabspf = 0x0A06,
            Noiob = 0x0A07,
            Nvmcap = new UInt128(0x0000000000000001, 0x8000000000000002),
            Npwg = 0x0B01,
            Npwa = 0x0B02,
            Npdg = 0x0B03,
            Npda = 0x0B04,
            Nows = 0x0B05,
            Mssrl = 0x0B06,
            Mcl = 0x0C0D0E0F,
            Msrc = 0x7F,
            Anagrpid = 0x00000042,
            Nsattr = 1,
            Nvmsetid = 0x0D01,
            Endgid = 0x0D02,
            Nguid = nguid,
            Eui64 = eui,
        };
        data.LbaFormats.Add(LbaFormat.ForBlockSize(512));
        data.LbaFormats.Add(new LbaFormat(8, 12, 2));
        data.LbaFormats.Add(LbaFormat.ForBlockSize(4096));

        byte[] b = Filled();
        data.WriteTo(b);

        Assert.Equal(0x0102030405060708ul, U64(b, 0));
        Assert.Equal(0x1112131415161718ul, U64(b, 8));
        Assert.Equal(0x2122232425262728ul, U64(b, 16));
        Assert.Equal(0x11, b[24]);
        Assert.Equal(2, b[25]);
        Assert.Equal(1, b[26]);
        Assert.Equal(2, b[27]);
        Assert.Equal(3, b[28]);
        Assert.Equal(4, b[29]);
        Assert.Equal(1, b[30]);
        Assert.Equal(5, b[31]);
        Assert.Equal(6, b[32]);
        Assert.Equal(0x09, b[33]);
        Assert.Equal(0x0A01, U16(b, 34));
        Assert.Equal(0x0A02, U16(b, 36));
        Assert.Equal(0x0A03, U16(b, 38));
        Assert.Equal(0x0A04, U16(b, 40));
        Assert.Equal(0x0A05, U16(b, 42));
        Assert.Equal(0x0A06, U16(b, 44));
        Assert.Equal(0x0A07, U16(b, 46));
        Assert.Equal(0x8000000000000002ul, U64(b, 48));
        Assert.Equal(0x0000000000000001ul, U64(b, 56));
        Assert.Equal(0x0B01, U16(b, 64));
        Assert.Equal(0x0B02, U16(b, 66));
        Assert.Equal(0x0B03, U16(b, 68));
        Assert.Equal(0x0B04, U16(b, 70));
        Assert.Equal(0x0B05, U16(b, 72));
        Assert.Equal(0x0B06, U16(b, 74));
        Assert.Equal(0x0C0D0E0Fu, U32(b, 76));
        Assert.Equal(0x7F, b[80]);
        Assert.All(b[81..92], x => Assert.Equal(0, x));
        Assert.Equal(0x42u, U32(b, 92));
        Assert.All(b[96..99], x => Assert.Equal(0, x));
        Assert.Equal(1, b[99]);
        Assert.Equal(0x0D01, U16(b, 100));
        Assert.Equal(0x0D02, U16(b, 102));
        Assert.Equal(nguid, b[104..120]);
        Assert.Equal(eui, b[120..128]);

        // LBAF0: 512 bytes, no metadata; LBADS at 130.
        Assert.Equal(0, U16(b, 128));
        Assert.Equal(9, b[130]);
        Assert.Equal(0, b[131]);
        // LBAF1: MS 8, LBADS 12, RP 2.
        Assert.Equal(8, U16(b, 132));
        Assert.Equal(12, b[134]);
        Assert.Equal(2, b[135]);
        // LBAF2
        Assert.Equal(12, b[138]);
        Assert.All(b[140..4096], x => Assert.Equal(0, x));
    }

    [Fact]
    public void NlbafIsZeroBasedAndEmptyListWritesZero()
    {
        IdentifyNamespaceData data = new();
        Assert.Equal(0, data.Nlbaf);
        data.LbaFormats.Add(LbaFormat.ForBlockSize(4096));
        Assert.Equal(0, data.Nlbaf);
        data.LbaFormats.Add(LbaFormat.ForBlockSize(512));
        Assert.Equal(1, data.Nlbaf);

        byte[] empty = Filled();
        new IdentifyNamespaceData().WriteTo(empty);
        Assert.All(empty, x => Assert.Equal(0, x));
    }

    [Fact]
    public void TooManyLbaFormatsAndBadIdentifiersAreRejected()
    {
        IdentifyNamespaceData data = new();
        for (int i = 0; i < 65; i++)
        {
            data.LbaFormats.Add(LbaFormat.ForBlockSize(512));
        }

        Assert.Throws<InvalidOperationException>(() => data.WriteTo(new byte[4096]));
        Assert.Throws<ArgumentException>(() => new IdentifyNamespaceData { Nguid = new byte[8] }.WriteTo(new byte[4096]));
        Assert.Throws<ArgumentException>(() => new IdentifyNamespaceData { Eui64 = new byte[16] }.WriteTo(new byte[4096]));
        Assert.Throws<ArgumentOutOfRangeException>(() => LbaFormat.ForBlockSize(1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => LbaFormat.ForBlockSize(256));
    }

    [Fact]
    public void SixtyFourthLbaFormatLandsAt380()
    {
        IdentifyNamespaceData data = new();
        for (int i = 0; i < 64; i++)
        {
            data.LbaFormats.Add(new LbaFormat((ushort)i, 9));
        }

        byte[] b = Filled();
        data.WriteTo(b);
        Assert.Equal(63, b[25]);
        Assert.Equal(63, U16(b, 128 + (4 * 63)));
        Assert.All(b[384..], x => Assert.Equal(0, x));
    }

    [Fact]
    public void CommandSetIndependentNamespaceAtSpecOffsets()
    {
        IdentifyCommandSetIndependentNamespaceData data = new()
        {
            Nsfeat = 0x11,
            Nmic = 1,
            Rescap = 0x22,
            Fpi = 0x33,
            Anagrpid = 0x01020304,
            Nsattr = 1,
            Nvmsetid = 0x0506,
            Endgid = 0x0708,
            Nstat = IdentifyNamespaceBits.NstatReady,
        };
        byte[] b = Filled();
        data.WriteTo(b);
        Assert.Equal(0x11, b[0]);
        Assert.Equal(1, b[1]);
        Assert.Equal(0x22, b[2]);
        Assert.Equal(0x33, b[3]);
        Assert.Equal(0x01020304u, U32(b, 4));
        Assert.Equal(1, b[8]);
        Assert.Equal(0, b[9]);
        Assert.Equal(0x0506, U16(b, 10));
        Assert.Equal(0x0708, U16(b, 12));
        Assert.Equal(1, b[14]);
        Assert.All(b[15..], x => Assert.Equal(0, x));
    }

    [Fact]
    public void NvmCommandSetControllerAtSpecOffsets()
    {
        IdentifyNvmCommandSetControllerData data = new()
        {
            Vsl = 1,
            Wzsl = 2,
            Wusl = 3,
            Dmrl = 4,
            Dmrsl = 0x05060708,
            Dmsl = 0x090A0B0C0D0E0F10,
        };
        byte[] b = Filled();
        data.WriteTo(b);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, b[0..4]);
        Assert.Equal(0x05060708u, U32(b, 4));
        Assert.Equal(0x090A0B0C0D0E0F10ul, U64(b, 8));
        Assert.All(b[16..], x => Assert.Equal(0, x));
    }

    [Fact]
    public void NvmCommandSetNamespaceAtSpecOffsets()
    {
        IdentifyNvmCommandSetNamespaceData data = new()
        {
            Lbstm = 0x0102030405060708,
            Pic = 7,
            Npdgl = 0x11,
            Nprg = 0x12,
            Npra = 0x13,
            Nors = 0x14,
            Npdal = 0x15,
        };
        data.Elbaf.Add(0xAABBCCDD);
        data.Elbaf.Add(0x00000180);
        byte[] b = Filled();
        data.WriteTo(b);
        Assert.Equal(0x0102030405060708ul, U64(b, 0));
        Assert.Equal(7, b[8]);
        Assert.All(b[9..12], x => Assert.Equal(0, x));
        Assert.Equal(0xAABBCCDDu, U32(b, 12));
        Assert.Equal(0x180u, U32(b, 16));
        Assert.All(b[20..268], x => Assert.Equal(0, x));
        Assert.Equal(0x11u, U32(b, 268));
        Assert.Equal(0x12u, U32(b, 272));
        Assert.Equal(0x13u, U32(b, 276));
        Assert.Equal(0x14u, U32(b, 280));
        Assert.Equal(0x15u, U32(b, 284));
        Assert.All(b[288..], x => Assert.Equal(0, x));

        byte[] zero = Filled();
        new IdentifyNvmCommandSetNamespaceData().WriteTo(zero);
        Assert.All(zero, x => Assert.Equal(0, x));
    }
}
