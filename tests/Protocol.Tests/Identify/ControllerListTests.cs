using System.Buffers.Binary;
using Xunit;

namespace NovaStor.Protocol.Tests.Identify;

public sealed class ControllerListTests
{
    [Fact]
    public void Lists_ids_from_cntid_up_after_numid_and_clears_the_rest()
    {
        var data = new byte[4096];
        data.AsSpan().Fill(0xEE);

        int written = ControllerList.Write(data, [1, 5, 9, 12], atLeast: 5);

        Assert.Equal(3, written);
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(data));
        Assert.Equal(5, BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(2)));
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(4)));
        Assert.Equal(12, BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(6)));
        Assert.All(data.AsSpan(8).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Holds_at_most_2047_ids_and_needs_a_whole_identify_buffer()
    {
        var ids = Enumerable.Range(1, 3000).Select(i => (ushort)i).ToArray();
        var data = new byte[4096];

        Assert.Equal(2047, ControllerList.Write(data, ids, atLeast: 0));
        Assert.Equal(2047, BinaryPrimitives.ReadUInt16LittleEndian(data));
        Assert.Equal(2047, BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(4094)));
        Assert.Throws<ArgumentException>(() => ControllerList.Write(new byte[4095], ids, 0));
    }
}
