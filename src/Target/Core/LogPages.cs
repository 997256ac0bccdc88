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
        }.WriteTo(page);
        return page;
    }

    public static byte[] Errors() => new byte[ErrorLog.PageLength(0)];

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
    /// to, all at the listener the host reached.
    /// </summary>
    public static byte[] Discovery(SubsystemRegistry registry, string hostNqn, ListenerInfo listener, ushort adminQueueEntries)
    {
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
