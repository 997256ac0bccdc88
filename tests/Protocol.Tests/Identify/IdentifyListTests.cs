using System.Buffers.Binary;
using Xunit;

namespace NovaStor.Protocol.Tests.Identify;

public sealed class IdentifyListTests
{
    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    private static byte[] Filled()
    {
        byte[] b = new byte[4096];
        b.AsSpan().Fill(0xCC);
        return b;
    }

    [Fact]
    public void ActiveListFromZeroIsZeroTerminated()
    {
        byte[] b = Filled();
        int n = ActiveNamespaceList.Write(b, [1, 2, 5, 9], 0);
        Assert.Equal(4, n);
        Assert.Equal(1u, U32(b, 0));
        Assert.Equal(2u, U32(b, 4));
        Assert.Equal(5u, U32(b, 8));
        Assert.Equal(9u, U32(b, 12));
        Assert.All(b[16..], x => Assert.Equal(0, x));
    }

    [Fact]
    public void ActiveListHonoursGreaterThan()
    {
        byte[] b = Filled();
        Assert.Equal(2, ActiveNamespaceList.Write(b, [1, 2, 5, 9], 2));
        Assert.Equal(5u, U32(b, 0));
        Assert.Equal(9u, U32(b, 4));
        Assert.Equal(0u, U32(b, 8));

        Assert.Equal(0, ActiveNamespaceList.Write(b, [1, 2, 5, 9], 9));
        Assert.All(b, x => Assert.Equal(0, x));
        Assert.Equal(0, ActiveNamespaceList.Write(b, [], 0));
    }

    [Fact]
    public void ActiveListStopsAt1024()
    {
        uint[] nsids = Enumerable.Range(1, 2000).Select(i => (uint)i).ToArray();
        byte[] b = Filled();
        Assert.Equal(1024, ActiveNamespaceList.Write(b, nsids, 0));
        Assert.Equal(1u, U32(b, 0));
        Assert.Equal(1024u, U32(b, 4092));

        Assert.Equal(1000, ActiveNamespaceList.Write(b, nsids, 1000));
        Assert.Equal(1001u, U32(b, 0));
        Assert.Equal(2000u, U32(b, 3996));
        Assert.Equal(0u, U32(b, 4000));

        Assert.Equal(1024, ActiveNamespaceList.Write(b, nsids, 500));
        Assert.Equal(501u, U32(b, 0));
        Assert.Equal(1524u, U32(b, 4092));
    }

    [Fact]
    public void DescriptorListCarriesNguidUuidCsiAndTerminator()
    {
        byte[] nguid = Enumerable.Range(0x10, 16).Select(i => (byte)i).ToArray();
        byte[] uuid = Enumerable.Range(0x80, 16).Select(i => (byte)i).ToArray();
        byte[] b = Filled();
        int used = NamespaceDescriptorList.Write(b, nguid, uuid, CommandSetIdentifiers.Nvm);
        Assert.Equal(20 + 20 + 5, used);

        Assert.Equal(new byte[] { 2, 16, 0, 0 }, b[0..4]);
        Assert.Equal(nguid, b[4..20]);
        Assert.Equal(new byte[] { 3, 16, 0, 0 }, b[20..24]);
        Assert.Equal(uuid, b[24..40]);
        Assert.Equal(new byte[] { 4, 1, 0, 0, 0 }, b[40..45]);

        // The rest is zero: the next header has NIDL 0, which ends the list.
        Assert.All(b[45..], x => Assert.Equal(0, x));
    }

    [Fact]
    public void DescriptorListSkipsMissingOrZeroIdentifiers()
    {
        byte[] b = Filled();
        int used = NamespaceDescriptorList.Write(b, new byte[16], ReadOnlySpan<byte>.Empty, 2);
        Assert.Equal(5, used);
        Assert.Equal(new byte[] { 4, 1, 0, 0, 2 }, b[0..5]);
        Assert.All(b[5..], x => Assert.Equal(0, x));
    }

    [Fact]
    public void DescriptorListWithEui64ComesFirst()
    {
        byte[] eui = [1, 2, 3, 4, 5, 6, 7, 8];
        byte[] nguid = Enumerable.Range(0x10, 16).Select(i => (byte)i).ToArray();
        byte[] b = Filled();
        int used = NamespaceDescriptorList.Write(b, eui, nguid, ReadOnlySpan<byte>.Empty, 0);
        Assert.Equal(12 + 20 + 5, used);
        Assert.Equal(new byte[] { 1, 8, 0, 0 }, b[0..4]);
        Assert.Equal(eui, b[4..12]);
        Assert.Equal(new byte[] { 2, 16, 0, 0 }, b[12..16]);
        Assert.Equal(4, b[32]);
    }

    [Fact]
    public void DescriptorListRejectsWrongLengths()
    {
        Assert.Throws<ArgumentException>(() => NamespaceDescriptorList.Write(new byte[4096], new byte[] { 1, 2 }, ReadOnlySpan<byte>.Empty, 0));
        Assert.Throws<ArgumentException>(() => NamespaceDescriptorList.Write(new byte[100], ReadOnlySpan<byte>.Empty, ReadOnlySpan<byte>.Empty, 0));
    }

    [Fact]
    public void CommandSetCombinationZeroIsNvmOnly()
    {
        byte[] b = Filled();
        CommandSetCombinationList.Write(b);
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(b));
        Assert.All(b[8..], x => Assert.Equal(0, x));
    }
}
