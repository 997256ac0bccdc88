using System.Buffers.Binary;
using System.Text;
using Xunit;

namespace NovaStor.Protocol.Tests.Identify;

public sealed class IdentifyControllerDataTests
{
    private static byte[] Write(IdentifyControllerData data)
    {
        byte[] buffer = new byte[IdentifyCns.IdentifyDataLength];
        buffer.AsSpan().Fill(0xCC);
        data.WriteTo(buffer);
        return buffer;
    }

    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    private static string Ascii(byte[] b, int at, int length) => Encoding.ASCII.GetString(b, at, length);

    [Fact]
    public void CnsConstants()
    {
        Assert.Equal(4096, IdentifyCns.IdentifyDataLength);
        Assert.Equal(0x00, IdentifyCns.Namespace);
        Assert.Equal(0x01, IdentifyCns.Controller);
        Assert.Equal(0x02, IdentifyCns.ActiveNamespaceList);
        Assert.Equal(0x03, IdentifyCns.NamespaceDescriptorList);
        Assert.Equal(0x05, IdentifyCns.CommandSetNamespace);
        Assert.Equal(0x06, IdentifyCns.CommandSetController);
        Assert.Equal(0x08, IdentifyCns.CommandSetIndependentNamespace);
        Assert.Equal(0x1C, IdentifyCns.CommandSetCombinationList);
    }

    [Fact]
    public void DefaultIsAllZeroExceptPaddedStrings()
    {
        byte[] b = Write(new IdentifyControllerData());
        Assert.Equal(new string(' ', 20), Ascii(b, 4, 20));
        Assert.Equal(new string(' ', 40), Ascii(b, 24, 40));
        Assert.Equal(new string(' ', 8), Ascii(b, 64, 8));
        b.AsSpan(4, 68).Clear();
        Assert.All(b, x => Assert.Equal(0, x));
    }

    [Fact]
    public void EveryFieldAtItsSpecOffset()
    {
        byte[] fguid = Enumerable.Range(0xA0, 16).Select(i => (byte)i).ToArray();
        IdentifyControllerData data = new()
        {
            Vid = 0x1B36,
            Ssvid = 0x1AF4,
            Sn = "SN-0001",
            Mn = "NovaStor Volume",
            Fr = "1.0",
            Rab = 6,
            IeeeOui = 0x123456,
            Cmic = IdentifyControllerBits.CmicMultiController | IdentifyControllerBits.CmicAna,
            Mdts = 5,
            Cntlid = 0x0102,
            Ver = IdentifyControllerBits.Version(2, 0),
            Rtd3r = 0x11111111,
            Rtd3e = 0x22222222,
            Oaes = IdentifyControllerBits.OaesNamespaceAttributeNotices | IdentifyControllerBits.OaesAnaChangeNotices,
            Ctratt = IdentifyControllerBits.CtrattHostId128,
            Rrls = 0x3344,
            Cntrltype = IdentifyControllerBits.ControllerTypeIo,
            Fguid = fguid,
            Crdt1 = 0x0A0B,
            Crdt2 = 0x0C0D,
            Crdt3 = 0x0E0F,
            Oacs = 0x5566,
            Acl = 3,
            Aerl = 4,
            Frmw = 0x03,
            Lpa = IdentifyControllerBits.LpaExtendedData,
            Elpe = 63,
            Npss = 0,
            Avscc = 1,
            Apsta = 0,
            Wctemp = 343,
            Cctemp = 373,
            Kas = 50,
            Anatt = 10,
            Anacap = IdentifyControllerBits.AnacapOptimized | IdentifyControllerBits.AnacapInaccessible,
            Anagrpmax = 128,
            Nanagrpid = 64,
            Sqes = 0x66,
            Cqes = 0x44,
            Maxcmd = 128,
            Nn = 1024,
            Oncs = IdentifyControllerBits.OncsDatasetManagement | IdentifyControllerBits.OncsWriteZeroes | IdentifyControllerBits.OncsCopy,
            Fuses = 1,
            Fna = 2,
            Vwc = IdentifyControllerBits.VwcPresent | IdentifyControllerBits.VwcFlushBroadcastSupported,
            Awun = 7,
            Awupf = 8,
            Icsvscc = 1,
            Nwpc = 2,
            Acwu = 9,
            Ocfs = IdentifyControllerBits.OcfsFormat0,
            Sgls = IdentifyControllerBits.SglsSupported | IdentifyControllerBits.SglsOffset,
            Mnan = 1024,
            Subnqn = "nqn.2024-01.io.novastor:vol-1",
            Ioccsz = 4 + 512,
            Iorcsz = 1,
            Icdoff = 0x1234,
            Fcatt = 1,
            Msdbd = 1,
            Ofcs = IdentifyControllerBits.OfcsDisconnect,
            Dctype = 0x77,
            PowerState0 = new PowerStateDescriptor(0x09C4, 0, 0x10, 0x4),
        };
        byte[] b = Write(data);

        Assert.Equal(0x1B36, U16(b, 0));
        Assert.Equal(0x1AF4, U16(b, 2));
        Assert.Equal("SN-0001".PadRight(20), Ascii(b, 4, 20));
        Assert.Equal("NovaStor Volume".PadRight(40), Ascii(b, 24, 40));
        Assert.Equal("1.0     ", Ascii(b, 64, 8));
        Assert.Equal(6, b[72]);
        Assert.Equal(new byte[] { 0x56, 0x34, 0x12 }, b[73..76]);
        Assert.Equal(0x0A, b[76]);
        Assert.Equal(5, b[77]);
        Assert.Equal(0x0102, U16(b, 78));
        Assert.Equal(0x00020000u, U32(b, 80));
        Assert.Equal(0x11111111u, U32(b, 84));
        Assert.Equal(0x22222222u, U32(b, 88));
        Assert.Equal((1u << 8) | (1u << 11), U32(b, 92));
        Assert.Equal(1u, U32(b, 96));
        Assert.Equal(0x3344, U16(b, 100));
        Assert.Equal(1, b[111]);
        Assert.Equal(fguid, b[112..128]);
        Assert.Equal(0x0A0B, U16(b, 128));
        Assert.Equal(0x0C0D, U16(b, 130));
        Assert.Equal(0x0E0F, U16(b, 132));
        Assert.Equal(0x5566, U16(b, 256));
        Assert.Equal(3, b[258]);
        Assert.Equal(4, b[259]);
        Assert.Equal(3, b[260]);
        Assert.Equal(4, b[261]);
        Assert.Equal(63, b[262]);
        Assert.Equal(0, b[263]);
        Assert.Equal(1, b[264]);
        Assert.Equal(343, U16(b, 266));
        Assert.Equal(373, U16(b, 268));
        Assert.Equal(50, U16(b, 320));
        Assert.Equal(10, b[342]);
        Assert.Equal(0x05, b[343]);
        Assert.Equal(128u, U32(b, 344));
        Assert.Equal(64u, U32(b, 348));
        Assert.Equal(0x66, b[512]);
        Assert.Equal(0x44, b[513]);
        Assert.Equal(128, U16(b, 514));
        Assert.Equal(1024u, U32(b, 516));
        Assert.Equal(0x010C, U16(b, 520));
        Assert.Equal(1, U16(b, 522));
        Assert.Equal(2, b[524]);
        Assert.Equal(7, b[525]);
        Assert.Equal(7, U16(b, 526));
        Assert.Equal(8, U16(b, 528));
        Assert.Equal(1, b[530]);
        Assert.Equal(2, b[531]);
        Assert.Equal(9, U16(b, 532));
        Assert.Equal(1, U16(b, 534));
        Assert.Equal((1u << 20) | 1u, U32(b, 536));
        Assert.Equal(1024u, U32(b, 540));
        Assert.Equal("nqn.2024-01.io.novastor:vol-1", Ascii(b, 768, 29));
        Assert.All(b[(768 + 29)..1024], x => Assert.Equal(0, x));
        Assert.Equal(516u, U32(b, 1792));
        Assert.Equal(1u, U32(b, 1796));
        Assert.Equal(0x1234, U16(b, 1800));
        Assert.Equal(1, b[1802]);
        Assert.Equal(1, b[1803]);
        Assert.Equal(1, U16(b, 1804));
        Assert.Equal(0x77, b[1806]);
        Assert.Equal(0x09C4, U16(b, 2048));
        Assert.Equal(0x10u, U32(b, 2052));
        Assert.Equal(0x4u, U32(b, 2056));

        // Reserved ranges stay zero.
        Assert.All(b[102..111], x => Assert.Equal(0, x));
        Assert.All(b[134..256], x => Assert.Equal(0, x));
        Assert.All(b[544..768], x => Assert.Equal(0, x));
        Assert.All(b[1024..1792], x => Assert.Equal(0, x));
        Assert.All(b[1807..2048], x => Assert.Equal(0, x));
        Assert.All(b[2080..4096], x => Assert.Equal(0, x));
    }

    [Fact]
    public void AsciiFieldsAreTruncatedAndSanitized()
    {
        byte[] b = Write(new IdentifyControllerData { Sn = "0123456789ABCDEFGHIJKLMNOP", Fr = "v\u00e9" });
        Assert.Equal("0123456789ABCDEFGHIJ", Ascii(b, 4, 20));
        Assert.Equal("v?      ", Ascii(b, 64, 8));
    }

    [Fact]
    public void SubnqnTooLongIsRejected()
    {
        IdentifyControllerData data = new() { Subnqn = new string('a', 256) };
        Assert.Throws<ArgumentException>(() => data.WriteTo(new byte[4096]));
        data.Subnqn = new string('a', 255);
        byte[] b = new byte[4096];
        data.WriteTo(b);
        Assert.Equal(0, b[768 + 255]);
    }

    [Fact]
    public void BadFguidLengthAndShortBufferAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new IdentifyControllerData { Fguid = new byte[15] }.WriteTo(new byte[4096]));
        Assert.Throws<ArgumentException>(() => new IdentifyControllerData().WriteTo(new byte[4095]));
    }

    [Fact]
    public void WritesOnlyTheFirst4096Bytes()
    {
        byte[] b = new byte[5000];
        b.AsSpan().Fill(0xEE);
        new IdentifyControllerData().WriteTo(b);
        Assert.All(b[4096..], x => Assert.Equal(0xEE, x));
    }

    [Fact]
    public void VersionEncoding()
    {
        Assert.Equal(0x00010400u, IdentifyControllerBits.Version(1, 4));
        Assert.Equal(0x00020001u, IdentifyControllerBits.Version(2, 0, 1));
    }
}
