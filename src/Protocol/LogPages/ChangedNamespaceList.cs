using System.Buffers.Binary;

namespace NovaStor.Protocol;

// Changed Namespace List log page (LID 04h), 4096 bytes: up to 1024 NSIDs (u32 LE) that
// changed since the log was last read, ascending, zero padded. When more than 1024 changed,
// the first entry is FFFFFFFFh and the rest are zero.

/// <summary>Writer of the changed namespace list log page (LID 04h).</summary>
public static class ChangedNamespaceList
{
    /// <summary>Full page length.</summary>
    public const int Length = 4096;

    /// <summary>NSIDs that fit in the page.</summary>
    public const int MaxEntries = Length / 4;

    /// <summary>First-entry value meaning "more than 1024 namespaces changed".</summary>
    public const uint Overflow = 0xFFFFFFFF;

    /// <summary>
    /// Writes the page into the first 4096 bytes of <paramref name="destination"/>. When
    /// <paramref name="overflowed"/> is set or there are more than 1024 NSIDs, writes only the
    /// overflow marker. Returns the number of entries written.
    /// </summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<uint> changedNsids, bool overflowed = false)
    {
        WireText.RequireLength(destination, Length, nameof(ChangedNamespaceList));
        Span<byte> d = destination[..Length];
        d.Clear();
        if (overflowed || changedNsids.Length > MaxEntries)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d, Overflow);
            return 1;
        }

        for (int i = 0; i < changedNsids.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(d[(4 * i)..], changedNsids[i]);
        }

        return changedNsids.Length;
    }
}
