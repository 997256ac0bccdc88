using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Reservation Notification log page (LID 80h), 64 bytes; each read returns (and consumes) the
// oldest unread notification of the controller:
//   0  u64 LPC     log page count: numbers notifications 1, 2, ... (0: the page is empty);
//                  a gap means notifications were lost
//   8  u8  RNLPT   type (ReservationNotificationType)
//   9  u8  NALP    number of available log pages still unread after this one (at most 255)
//  10  2 bytes reserved
//  12  u32 NSID    namespace the notification is about
//  16  48 bytes reserved

/// <summary>One reservation notification log page.</summary>
public readonly record struct ReservationNotification(ulong Count, ReservationNotificationType Type, byte AvailableAfter, uint NamespaceId)
{
    public const int Length = 64;

    public void WriteTo(Span<byte> destination)
    {
        var d = destination[..Length];
        d.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(d, Count);
        d[8] = (byte)Type;
        d[9] = AvailableAfter;
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], NamespaceId);
    }

    public static ReservationNotification Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(source),
        (ReservationNotificationType)source[8],
        source[9],
        BinaryPrimitives.ReadUInt32LittleEndian(source[12..]));
}
