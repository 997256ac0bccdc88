using System.Buffers.Binary;
using Xunit;

namespace NovaStor.Protocol.Tests.Reservations;

/// <summary>The reservation commands' fields, the Reservation Status data (both forms) and the notification log page, byte by byte.</summary>
public sealed class ReservationWireTests
{
    private static readonly Guid HostA = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");

    [Fact]
    public void Extended_report_puts_key_at_8_and_the_128_bit_host_id_at_16_of_each_64_byte_entry()
    {
        var status = new ReservationStatus(7, ReservationType.ExclusiveAccessRegistrantsOnly, true,
            [new RegisteredController(3, true, HostA, 0x1122334455667788), new RegisteredController(ReservationStatus.NoController, false, Guid.Empty, 9)]);
        var page = new byte[ReservationStatus.GetLength(2, extended: true)];
        page.AsSpan().Fill(0xEE);
        status.WriteTo(page, extended: true);

        Assert.Equal(64 + 128, page.Length);
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(page));
        Assert.Equal(4, page[4]);                                           // RTYPE
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(5))); // REGCTL
        Assert.Equal(1, page[9]);                                           // PTPLS
        Assert.All(page[10..64], b => Assert.Equal(0, b));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(64)));
        Assert.Equal(1, page[66]);                                          // RCSTS: holds
        Assert.Equal(0x1122334455667788ul, BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(72)));
        Assert.Equal(Convert.FromHexString("00112233445566778899AABBCCDDEEFF"), page[80..96]);
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(128)));
        Assert.Equal(0, page[130]);

        var read = ReservationStatus.Read(page, extended: true);
        Assert.Equal(status.Generation, read.Generation);
        Assert.Equal(status.Type, read.Type);
        Assert.True(read.PersistThroughPowerLoss);
        Assert.Equal(status.Controllers, read.Controllers);
    }

    [Fact]
    public void Plain_report_has_24_byte_entries_with_the_64_bit_host_id_before_the_key()
    {
        var status = new ReservationStatus(1, ReservationType.WriteExclusive, false, [new RegisteredController(5, true, HostA, 0xAB)]);
        var page = new byte[ReservationStatus.GetLength(1, extended: false)];
        status.WriteTo(page, extended: false);

        Assert.Equal(48, page.Length);
        Assert.Equal(5, BinaryPrimitives.ReadUInt16LittleEndian(page.AsSpan(24)));
        Assert.Equal(Convert.FromHexString("8899AABBCCDDEEFF"), page[32..40]);
        Assert.Equal(0xABul, BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(40)));
        var entry = Assert.Single(ReservationStatus.Read(page, extended: false).Controllers);
        Assert.Equal(0xABul, entry.Key);
        Assert.Equal(5, entry.ControllerId);
    }

    [Fact]
    public void A_short_buffer_reads_the_entries_it_holds()
    {
        var status = new ReservationStatus(1, ReservationType.None, false, [new RegisteredController(1, false, HostA, 1), new RegisteredController(2, false, HostA, 1)]);
        var page = new byte[ReservationStatus.GetLength(2, extended: true)];
        status.WriteTo(page, extended: true);
        Assert.Single(ReservationStatus.Read(page.AsSpan(0, 64 + 64), extended: true).Controllers);
        Assert.Throws<ArgumentException>(() => ReservationStatus.Read(page.AsSpan(0, 40), extended: true));
        Assert.Throws<ArgumentException>(() => status.WriteTo(new byte[100], extended: true));
    }

    [Fact]
    public void Command_dwords_carry_action_iekey_type_and_cptpl_where_the_specification_puts_them()
    {
        uint register = ReservationCommandFields.RegisterCdw10(ReservationRegisterAction.Replace, ignoreExistingKey: true, PersistThroughPowerLossChange.Set);
        Assert.Equal(0xC000_000Au, register);
        Assert.Equal(2, ReservationCommandFields.Action(register));
        Assert.True(ReservationCommandFields.IgnoreExistingKey(register));
        Assert.Equal(PersistThroughPowerLossChange.Set, ReservationCommandFields.PersistChange(register));

        uint acquire = ReservationCommandFields.AcquireOrReleaseCdw10((byte)ReservationAcquireAction.Preempt, ReservationType.ExclusiveAccessAllRegistrants);
        Assert.Equal(0x0601u, acquire);
        Assert.Equal((byte)ReservationType.ExclusiveAccessAllRegistrants, ReservationCommandFields.Type(acquire));
        Assert.True(ReservationCommandFields.ExtendedDataStructure(ReservationCommandFields.ReportCdw11(true)));

        var keys = new byte[16];
        ReservationCommandFields.WriteKeys(keys, 0x0102030405060708, 0x1112131415161718);
        Assert.Equal(0x08, keys[0]);
        Assert.Equal(0x18, keys[8]);
        Assert.Equal(0x0102030405060708ul, ReservationCommandFields.CurrentKey(keys));
        Assert.Equal(0x1112131415161718ul, ReservationCommandFields.SecondKey(keys));
    }

    [Fact]
    public void Notification_log_page_has_count_type_available_and_nsid_at_their_offsets()
    {
        var page = new byte[ReservationNotification.Length];
        page.AsSpan().Fill(0xEE);
        new ReservationNotification(0x0102, ReservationNotificationType.ReservationPreempted, 4, 9).WriteTo(page);
        Assert.Equal(0x0102ul, BinaryPrimitives.ReadUInt64LittleEndian(page));
        Assert.Equal(3, page[8]);
        Assert.Equal(4, page[9]);
        Assert.Equal(9u, BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(12)));
        Assert.All(page[16..], b => Assert.Equal(0, b));
        Assert.Equal(new ReservationNotification(0x0102, ReservationNotificationType.ReservationPreempted, 4, 9), ReservationNotification.Read(page));
    }
}
