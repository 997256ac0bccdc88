using NovaStor.Protocol;

namespace NovaStor.Target.Core;

/// <summary>Builds whole log pages; Get Log Page then copies the window the host asked for.</summary>
internal static class LogPages
{
    private const ushort TemperatureKelvin = 273 + 30;

    public static byte[] Smart(Controller controller)
    {
        // Queues that have closed still count: the counters only ever grow while the controller lives.
        var counted = controller.SmartCounters();

        var page = new byte[SmartHealthLog.Length];
        new SmartHealthLog
        {
            CompositeTemperature = TemperatureKelvin,
            AvailableSpare = 100,
            AvailableSpareThreshold = 10,
            DataUnitsRead = SmartHealthLog.ToDataUnits((UInt128)counted.BytesRead),
            DataUnitsWritten = SmartHealthLog.ToDataUnits((UInt128)counted.BytesWritten),
            HostReadCommands = (UInt128)counted.ReadCommands,
            HostWriteCommands = (UInt128)counted.WriteCommands,
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

    /// <summary>
    /// The ANA groups holding the subsystem's namespaces, each with its state on the port the
    /// controller came through; CHGCNT counts every ANA state change of the target.
    /// </summary>
    public static byte[] Ana(Subsystem subsystem, TargetPort port, ulong changeCount, bool groupsOnly)
    {
        AnaGroupDescriptor[] groups =
        [
            .. subsystem.Namespaces.GroupBy(n => n.AnaGroupId).OrderBy(g => g.Key)
                .Select(g => new AnaGroupDescriptor(g.Key, port.StateOf(g.Key), changeCount, g.Select(n => n.Id).ToArray())),
        ];
        var page = new byte[AnaLog.GetLength(groups, groupsOnly)];
        AnaLog.Write(page, changeCount, groups, groupsOnly);
        return page;
    }

    /// <summary>
    /// Discovery log: the current discovery subsystem, then every subsystem this host may connect
    /// to, all at the listener the host reached (at the advertised address, if one is configured).
    /// </summary>
    public static byte[] Discovery(SubsystemRegistry registry, string hostNqn, ListenerInfo reached, ushort adminQueueEntries)
    {
        var current = reached.AdvertisedAs(registry.AdvertisedAddress);
        var entries = new List<DiscoveryLogEntry> { Entry(registry.Discovery, DiscoveryLog.SubsystemTypeCurrentDiscovery, current, adminQueueEntries) };
        // Every port that still listens, so a multipath host (nvme connect-all) finds every path.
        var ports = registry.Ports.Where(p => !p.IsStopped).Select(p => PortAsReached(p, reached).AdvertisedAs(registry.AdvertisedAddress)).ToArray();
        foreach (var subsystem in registry.Subsystems)
        {
            if (!subsystem.Admits(hostNqn))
            {
                continue;
            }

            foreach (var port in ports.Where(p => subsystem.ServedOn(p.PortId)))
            {
                entries.Add(Entry(subsystem, DiscoveryLog.SubsystemTypeNvm, port, adminQueueEntries));
            }
        }

        var page = new byte[DiscoveryLog.GetLength(entries.Count)];
        DiscoveryLog.Write(page, registry.DiscoveryGeneration, entries);
        return page;
    }

    /// <summary>A port as a host should reach it: the connection's own address for the port it came through, or a wildcard port.</summary>
    private static ListenerInfo PortAsReached(TargetPort port, ListenerInfo reached) =>
        port.Id == reached.PortId || port.IsWildcard || port.Port == 0
            ? reached with { Port = port.Port == 0 ? reached.Port : port.Port, PortId = port.Id }
            : new ListenerInfo(port.Address.ToString(), port.Port, port.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6, port.Id);

    private static DiscoveryLogEntry Entry(Subsystem subsystem, byte type, ListenerInfo listener, ushort adminQueueEntries) => new()
    {
        SubsystemType = type,
        AddressFamily = listener.IsIPv6 ? DiscoveryLog.AddressFamilyIPv6 : DiscoveryLog.AddressFamilyIPv4,
        // No TLS here: the secure channel is not specified, as nvmet says. SQ flow control may be
        // disabled (then a read's C2HData completes it): nvme-cli's connect-all asks for that
        // when it sees this bit, as it does with nvmet, which sets it on every port.
        TransportRequirements = DiscoveryLog.TreqSecureChannelNotSpecified | DiscoveryLog.TreqDisableSqFlowControl,
        PortId = listener.PortId,
        ControllerId = 0xFFFF,
        AdminMaxSubmissionQueueSize = adminQueueEntries,
        TransportServiceId = listener.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        SubsystemNqn = subsystem.Nqn,
        TransportAddress = listener.Address,
    };
}
