using NovaStor.Protocol;

namespace NovaStor.Target.Core;

/// <summary>Builds whole log pages; Get Log Page then copies the window the host asked for.</summary>
internal static class LogPages
{
    private const ushort TemperatureKelvin = 273 + 30;

    public static byte[] Smart(Controller controller)
    {
        // Queues that have closed still count: the counters only ever grow while the controller lives.
        (long readCommands, long writeCommands, long read, long written) = controller.SmartCounters();

        var page = new byte[SmartHealthLog.Length];
        new SmartHealthLog
        {
            CompositeTemperature = TemperatureKelvin,
            AvailableSpare = 100,
            AvailableSpareThreshold = 10,
            DataUnitsRead = SmartHealthLog.ToDataUnits((UInt128)read * 512),
            DataUnitsWritten = SmartHealthLog.ToDataUnits((UInt128)written * 512),
            HostReadCommands = (UInt128)readCommands,
            HostWriteCommands = (UInt128)writeCommands,
            MediaErrors = controller.Errors.MediaErrors,
            NumErrorLogEntries = controller.Errors.Count,
        }.WriteTo(page);
        return page;
    }

    public static byte[] Errors(Controller controller) => controller.Errors.Page();

    /// <summary>The log pages an I/O controller answers (a discovery controller answers 00h and 70h).</summary>
    private static readonly byte[] IoControllerLogPages =
    [
        LogPageIdentifiers.SupportedLogPages, LogPageIdentifiers.ErrorInformation, LogPageIdentifiers.Smart,
        LogPageIdentifiers.FirmwareSlot, LogPageIdentifiers.ChangedNamespaces, LogPageIdentifiers.CommandEffects,
        LogPageIdentifiers.Ana, LogPageIdentifiers.ReservationNotification,
    ];

    public static byte[] SupportedLogPages(bool discovery)
    {
        var page = new byte[Protocol.SupportedLogPages.Length];
        Protocol.SupportedLogPages.Write(page, discovery ? [LogPageIdentifiers.SupportedLogPages, LogPageIdentifiers.Discovery] : IoControllerLogPages);
        return page;
    }

    /// <summary>One read-only slot running this build, as nvmet reports (FRMW in Identify says the same).</summary>
    public static byte[] FirmwareSlot()
    {
        var page = new byte[FirmwareSlotLog.Length];
        FirmwareSlotLog.WriteSingleSlot(page, IdentifyData.FirmwareRevision);
        return page;
    }

    /// <summary>
    /// Every command this controller implements (AdminCommands, IoCommands): supported, and for the
    /// ones that write, "may change logical block content". Fabrics commands (7Fh) are not listed:
    /// the log describes the admin and NVM command sets.
    /// </summary>
    public static byte[] CommandEffects()
    {
        const uint Supported = CommandEffectsLog.Supported, Writes = CommandEffectsLog.Supported | CommandEffectsLog.ChangesBlockContent;
        var page = new byte[CommandEffectsLog.Length];
        CommandEffectsLog.Write(
            page,
            [
                (AdminOpcode.GetLogPage, Supported), (AdminOpcode.Identify, Supported), (AdminOpcode.Abort, Supported),
                (AdminOpcode.SetFeatures, Supported), (AdminOpcode.GetFeatures, Supported),
                (AdminOpcode.AsyncEventRequest, Supported), (AdminOpcode.KeepAlive, Supported),
            ],
            [
                (IoOpcode.Flush, Supported), (IoOpcode.Write, Writes), (IoOpcode.Read, Supported), (IoOpcode.Compare, Supported),
                (IoOpcode.WriteZeroes, Writes), (IoOpcode.DatasetManagement, Writes), (IoOpcode.Verify, Supported), (IoOpcode.Copy, Writes),
                (IoOpcode.ReservationRegister, Supported), (IoOpcode.ReservationReport, Supported),
                (IoOpcode.ReservationAcquire, Supported), (IoOpcode.ReservationRelease, Supported),
            ]);
        return page;
    }

    /// <summary>The controller's oldest unread reservation notification (consumed by this read), or an empty page.</summary>
    public static byte[] ReservationNotification(Controller controller, bool retainEvent)
    {
        var page = new byte[Protocol.ReservationNotification.Length];
        controller.TakeReservationNotification(retainEvent).WriteTo(page);
        return page;
    }

    public static byte[] ChangedNamespaces() => new byte[ChangedNamespaceList.Length];

    /// <summary>One ANA group (1), optimized, holding every namespace of the subsystem.</summary>
    public static byte[] Ana(Subsystem subsystem, bool groupsOnly)
    {
        var nsids = subsystem.Namespaces.Select(n => n.Id).ToArray();
        AnaGroupDescriptor[] groups = [new AnaGroupDescriptor(1, AnaState.Optimized, 0, nsids)];
        var page = new byte[AnaLog.GetLength(groups, groupsOnly)];
        AnaLog.Write(page, 0, groups, groupsOnly);
        return page;
    }

    /// <summary>
    /// Discovery log: the current discovery subsystem, then every subsystem this host may connect
    /// to, all at the listener the host reached (at the advertised address, if one is configured).
    /// </summary>
    public static byte[] Discovery(SubsystemRegistry registry, string hostNqn, ListenerInfo reached, ushort adminQueueEntries)
    {
        var listener = reached.AdvertisedAs(registry.AdvertisedAddress);
        var entries = new List<DiscoveryLogEntry> { Entry(registry.Discovery, DiscoveryLog.SubsystemTypeCurrentDiscovery, listener, adminQueueEntries) };
        foreach (var subsystem in registry.Subsystems)
        {
            if (subsystem.Admits(hostNqn))
            {
                entries.Add(Entry(subsystem, DiscoveryLog.SubsystemTypeNvm, listener, adminQueueEntries));
            }
        }

        var page = new byte[DiscoveryLog.GetLength(entries.Count)];
        DiscoveryLog.Write(page, registry.DiscoveryGeneration, entries);
        return page;
    }

    private static DiscoveryLogEntry Entry(Subsystem subsystem, byte type, ListenerInfo listener, ushort adminQueueEntries) => new()
    {
        SubsystemType = type,
        AddressFamily = listener.IsIPv6 ? DiscoveryLog.AddressFamilyIPv6 : DiscoveryLog.AddressFamilyIPv4,
        TransportRequirements = DiscoveryLog.TreqSecureChannelNotSpecified, // no TLS here: say nothing, as nvmet
        PortId = listener.PortId,
        ControllerId = 0xFFFF,
        AdminMaxSubmissionQueueSize = adminQueueEntries,
        TransportServiceId = listener.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        SubsystemNqn = subsystem.Nqn,
        TransportAddress = listener.Address,
    };
}
