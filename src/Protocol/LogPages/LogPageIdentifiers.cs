namespace NovaStor.Protocol;

/// <summary>Log page identifiers (Get Log Page CDW10 bits 7:0).</summary>
public static class LogPageIdentifiers
{
    /// <summary>Supported log pages (1024 bytes).</summary>
    public const byte SupportedLogPages = 0x00;

    /// <summary>Error information (64-byte entries).</summary>
    public const byte ErrorInformation = 0x01;

    /// <summary>SMART / health information (512 bytes).</summary>
    public const byte Smart = 0x02;

    /// <summary>Firmware slot information (512 bytes).</summary>
    public const byte FirmwareSlot = 0x03;

    /// <summary>Changed namespace list (4096 bytes).</summary>
    public const byte ChangedNamespaces = 0x04;

    /// <summary>Commands supported and effects (4096 bytes).</summary>
    public const byte CommandEffects = 0x05;

    /// <summary>Asymmetric namespace access.</summary>
    public const byte Ana = 0x0C;

    /// <summary>Reservation notification (64 bytes, one entry per read).</summary>
    public const byte ReservationNotification = 0x80;

    /// <summary>Discovery log (discovery controllers).</summary>
    public const byte Discovery = 0x70;
}

/// <summary>Copies the window of a log page a Get Log Page command asked for.</summary>
public static class LogPageWindow
{
    /// <summary>
    /// Copies <c>fullPage[offset .. offset + destination.Length)</c> into <paramref name="destination"/>,
    /// zero-filling whatever lies beyond the end of the page. Returns false, touching nothing,
    /// when the offset is not dword aligned or lies beyond the end of the page (the controller
    /// then answers Invalid Field in Command). An offset equal to the page length is valid and
    /// yields zeros.
    /// </summary>
    public static bool Copy(ReadOnlySpan<byte> fullPage, ulong offset, Span<byte> destination)
    {
        if (!IsValidOffset(fullPage.Length, offset))
        {
            return false;
        }

        ReadOnlySpan<byte> available = fullPage[(int)offset..];
        int n = Math.Min(available.Length, destination.Length);
        available[..n].CopyTo(destination);
        destination[n..].Clear();
        return true;
    }

    /// <summary>True when <paramref name="offset"/> is dword aligned and not beyond a page of <paramref name="pageLength"/> bytes.</summary>
    public static bool IsValidOffset(long pageLength, ulong offset) =>
        (offset & 3) == 0 && offset <= (ulong)pageLength;
}
