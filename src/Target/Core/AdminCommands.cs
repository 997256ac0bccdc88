using NovaStor.Protocol;

namespace NovaStor.Target.Core;

/// <summary>
/// The admin command set of I/O and discovery controllers: Identify, Get Log Page, Set/Get
/// Features, Asynchronous Event Request, Keep Alive, Abort. The counterpart of the Linux target's
/// admin-cmd.c and discovery.c. Runs on the admin queue's receive path; allocation is fine here.
/// </summary>
internal sealed class AdminCommands(QueueSession queue)
{
    /// <summary>Get Log Page CDW10 bit 15: Retain Asynchronous Event (reading the log does not re-arm its event).</summary>
    private const uint RetainAsyncEventBit = 1u << 15;

    public NvmeStatus Parse(NvmeRequest request)
    {
        ref readonly var command = ref request.Command;
        bool discovery = queue.Controller!.IsDiscovery;
        switch (command.Opcode)
        {
            case AdminOpcode.Identify:
                return QueueSession.ExpectData(request, DataDirection.ControllerToHost, IdentifyCns.IdentifyDataLength);
            case AdminOpcode.GetLogPage:
                {
                    // NUMD (0-based dwords): NUMDL in CDW10 31:16, NUMDU in CDW11 15:0.
                    long dwords = ((command.Cdw10 >> 16) | ((command.Cdw11 & 0xFFFF) << 16)) + 1L;
                    return QueueSession.ExpectData(request, DataDirection.ControllerToHost, dwords * 4);
                }

            case AdminOpcode.GetFeatures:
                return FeatureCommands.ParseGet(request);
            case AdminOpcode.SetFeatures:
                // A host identifier comes with data (nvme set-feature -f 0x81 sends 8 or 16 bytes); it is refused, but not for its length.
                return (byte)command.Cdw10 == FeatureId.HostIdentifier
                    ? QueueSession.ExpectDataAtLeast(request, DataDirection.HostToController, 0)
                    : QueueSession.ExpectData(request, DataDirection.None, 0);
            case AdminOpcode.AsyncEventRequest:
            case AdminOpcode.KeepAlive:
                return QueueSession.ExpectData(request, DataDirection.None, 0);
            case AdminOpcode.Abort when !discovery:
                return QueueSession.ExpectData(request, DataDirection.None, 0);
            default:
                return StatusCodes.InvalidOpcode;
        }
    }

    public void Execute(NvmeRequest request)
    {
        var controller = queue.Controller!;
        switch (request.Command.Opcode)
        {
            case AdminOpcode.Identify:
                queue.Complete(request, Identify(request, controller));
                break;
            case AdminOpcode.GetLogPage:
                queue.Complete(request, GetLogPage(request, controller));
                break;
            case AdminOpcode.SetFeatures when (byte)request.Command.Cdw10 == FeatureId.ReservationPersistence:
                // Turning PTPL on or off writes the reservation store (fsync): never on a reactor.
                ThreadPool.UnsafeQueueUserWorkItem(
                    static state => state.Queue.Complete(state.Request, FeatureCommands.Set(state.Request, state.Controller, state.Queue.Logger)),
                    (Queue: queue, Request: request, Controller: controller),
                    preferLocal: false);
                break;
            case AdminOpcode.SetFeatures:
                queue.Complete(request, FeatureCommands.Set(request, controller, queue.Logger));
                break;
            case AdminOpcode.GetFeatures:
                queue.Complete(request, FeatureCommands.Get(request, controller));
                break;
            case AdminOpcode.AsyncEventRequest:
                // Parked until an event; completed only then. Over the limit: an error now.
                if (!controller.AddAsyncEventRequest(request))
                {
                    queue.Complete(request, StatusCodes.AsyncEventRequestLimitExceeded);
                }

                break;
            case AdminOpcode.KeepAlive:
                controller.KeepAlive();
                queue.Complete(request, NvmeStatus.Success);
                break;
            default:
                // Abort: commands run to completion here, so report "not aborted" (DW0 bit 0).
                request.Result0 = 1;
                queue.Complete(request, NvmeStatus.Success);
                break;
        }
    }

    private NvmeStatus Identify(NvmeRequest request, Controller controller)
    {
        ref readonly var command = ref request.Command;
        byte cns = (byte)command.Cdw10;
        byte csi = (byte)(command.Cdw11 >> 24);
        uint nsid = command.NamespaceId;
        var data = request.Data; // cleared by QueueSession.Execute

        if (controller.IsDiscovery && cns != IdentifyCns.Controller)
        {
            return StatusCodes.InvalidField;
        }

        switch (cns)
        {
            case IdentifyCns.Controller:
                IdentifyData.WriteController(data, controller, queue.Limits);
                return NvmeStatus.Success;
            case IdentifyCns.ActiveNamespaceList:
                {
                    if (nsid >= 0xFFFFFFFE)
                    {
                        return StatusCodes.InvalidNamespace;
                    }

                    var ids = controller.Subsystem.Namespaces.Select(n => n.Id).ToArray();
                    ActiveNamespaceList.Write(data, ids, nsid);
                    return NvmeStatus.Success;
                }

            case IdentifyCns.CommandSetController:
                if (csi != CommandSetIdentifiers.Nvm)
                {
                    return StatusCodes.InvalidField;
                }

                IdentifyData.WriteNvmCommandSetController(data, queue.Limits);
                return NvmeStatus.Success;
            case IdentifyCns.CommandSetCombinationList:
                CommandSetCombinationList.Write(data);
                return NvmeStatus.Success;
            case IdentifyCns.SubsystemControllerList:
                ControllerList.Write(data, controller.Subsystem.ControllerIds(), (ushort)(command.Cdw10 >> 16));
                return NvmeStatus.Success;
            case IdentifyCns.NamespaceControllerList:
                {
                    // Every controller is attached to every namespace (no attachment commands): an
                    // active NSID lists them all, an inactive one none.
                    if (nsid == 0 || nsid > Subsystem.MaxNamespaces)
                    {
                        return StatusCodes.InvalidNamespace;
                    }

                    ushort[] ids = controller.Subsystem.FindNamespace(nsid) is null ? [] : controller.Subsystem.ControllerIds();
                    ControllerList.Write(data, ids, (ushort)(command.Cdw10 >> 16));
                    return NvmeStatus.Success;
                }

            case IdentifyCns.Namespace:
            case IdentifyCns.NamespaceDescriptorList:
            case IdentifyCns.CommandSetNamespace:
            case IdentifyCns.CommandSetIndependentNamespace:
                return IdentifyNamespace(data, controller, cns, csi, nsid);
            default:
                return StatusCodes.InvalidField;
        }
    }

    private NvmeStatus IdentifyNamespace(Span<byte> data, Controller controller, byte cns, byte csi, uint nsid)
    {
        if (nsid == 0 || nsid > Subsystem.MaxNamespaces)
        {
            return StatusCodes.InvalidNamespace;
        }

        var ns = controller.Subsystem.FindNamespace(nsid);
        if (ns is null)
        {
            // An inactive but valid NSID: Identify Namespace returns zeroes; the others have nothing to describe.
            return cns == IdentifyCns.Namespace ? NvmeStatus.Success : StatusCodes.InvalidNamespace;
        }

        switch (cns)
        {
            case IdentifyCns.Namespace:
                ulong? allocated = ns.AllocatedBlocks(out string? failure);
                if (failure is not null)
                {
                    Log.AllocationQueryFailed(queue.Logger, controller.Subsystem.Nqn, ns.Id, failure);
                }

                IdentifyData.WriteNamespace(data, ns, queue.Limits, allocated);
                break;
            case IdentifyCns.NamespaceDescriptorList:
                NamespaceDescriptorList.Write(data, ns.Nguid, ns.Uuid, CommandSetIdentifiers.Nvm);
                break;
            case IdentifyCns.CommandSetNamespace:
                if (csi != CommandSetIdentifiers.Nvm)
                {
                    return StatusCodes.InvalidField;
                }

                // NVM command set specific namespace data: no protection information, nothing to report.
                break;
            default:
                IdentifyData.WriteCommandSetIndependentNamespace(data, ns);
                break;
        }

        return NvmeStatus.Success;
    }

    private NvmeStatus GetLogPage(NvmeRequest request, Controller controller)
    {
        ref readonly var command = ref request.Command;
        byte logId = (byte)command.Cdw10;
        byte specific = (byte)((command.Cdw10 >> 8) & 0x7F);
        ulong offset = command.Cdw12 | ((ulong)command.Cdw13 << 32);
        if ((offset & 3) != 0)
        {
            return StatusCodes.InvalidField;
        }

        byte[]? page = (logId, controller.IsDiscovery) switch
        {
            (LogPageIdentifiers.Discovery, true) => LogPages.Discovery(queue.Registry, controller.HostNqn, queue.Listener, (ushort)queue.Limits.MaxAdminQueueEntries),
            (LogPageIdentifiers.SupportedLogPages, _) => LogPages.SupportedLogPages(controller.IsDiscovery),
            (LogPageIdentifiers.FirmwareSlot, false) => LogPages.FirmwareSlot(),
            (LogPageIdentifiers.CommandEffects, false) => LogPages.CommandEffects(),
            (LogPageIdentifiers.ErrorInformation, false) => LogPages.Errors(controller),
            (LogPageIdentifiers.Smart, false) => LogPages.Smart(controller),
            (LogPageIdentifiers.ChangedNamespaces, false) => controller.TakeChangedNamespaces((command.Cdw10 & RetainAsyncEventBit) != 0),
            (LogPageIdentifiers.ReservationNotification, false) => LogPages.ReservationNotification(controller, (command.Cdw10 & RetainAsyncEventBit) != 0),
            (LogPageIdentifiers.Ana, false) => AnaLogRead(controller, (command.Cdw10 & RetainAsyncEventBit) != 0, (specific & AnaLog.LspReturnGroupsOnly) != 0),
            _ => null,
        };

        if (page is null)
        {
            return StatusCodes.InvalidLogPage;
        }

        return LogPageWindow.Copy(page, offset, request.Data) ? NvmeStatus.Success : StatusCodes.InvalidField;
    }

    private byte[] AnaLogRead(Controller controller, bool retainEvent, bool groupsOnly)
    {
        controller.AnaLogRead(retainEvent);
        return LogPages.Ana(controller.Subsystem, queue.Port, queue.Registry.AnaChangeCount, groupsOnly);
    }
}
