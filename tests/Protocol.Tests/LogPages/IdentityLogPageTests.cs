using System.Buffers.Binary;
using System.Text;
using Xunit;

namespace NovaStor.Protocol.Tests.LogPages;

/// <summary>The log pages that describe the controller itself: supported log pages (00h), firmware slot (03h), command effects (05h).</summary>
public sealed class IdentityLogPageTests
{
    [Fact]
    public void Supported_log_pages_sets_lsupp_in_the_entry_of_each_id_and_nothing_else()
    {
        var page = new byte[SupportedLogPages.Length];
        page.AsSpan().Fill(0xEE); // stale bytes must be cleared
        SupportedLogPages.Write(page, [0x00, 0x02, 0xFF]);

        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(0)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(8)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(1020)));
        Assert.Equal(3, page.Count(b => b != 0));
        Assert.Throws<ArgumentException>(() => SupportedLogPages.Write(new byte[1023], [0x00]));
    }

    [Theory]
    [InlineData("0.6.0", "0.6.0   ")]
    [InlineData("10.20.300", "10.20.30")]
    public void Firmware_slot_log_reports_slot_one_active_with_the_revision_space_padded(string revision, string expected)
    {
        var page = new byte[FirmwareSlotLog.Length];
        page.AsSpan().Fill(0xEE);
        FirmwareSlotLog.WriteSingleSlot(page, revision);

        Assert.Equal(1, page[0]);
        Assert.All(page.AsSpan(1, 7).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(expected, Encoding.ASCII.GetString(page, 8, 8));
        Assert.All(page.AsSpan(16).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Command_effects_log_puts_admin_entries_first_and_io_entries_at_1024()
    {
        var page = new byte[CommandEffectsLog.Length];
        CommandEffectsLog.Write(page, [(0x06, CommandEffectsLog.Supported)], [(0x01, CommandEffectsLog.Supported | CommandEffectsLog.ChangesBlockContent)]);

        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(4 * 0x06)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(1024 + 4)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(4)));       // admin 01h: not listed
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(1024 + 8))); // I/O 02h: not listed
        Assert.Throws<ArgumentException>(() => CommandEffectsLog.Write(new byte[2048], [], []));
    }
}
