using Microsoft.Extensions.Logging;
using NovaStor.Protocol;

namespace NovaStor.Target.Core;

/// <summary>
/// Set Features and Get Features (NVMe Base 2.0, section 5.27): every feature the base
/// specification makes mandatory for an I/O controller, plus the reservation features. Get honours
/// SEL: current, default, saved (nothing is saveable, so saved reads as the default) and supported
/// capabilities. The counterpart of the Linux target's nvmet_execute_{set,get}_features.
/// </summary>
internal static class FeatureCommands
{
    private const uint SaveBit = 1u << 31;
    private const uint ExtendedHostIdBit = 1u << 0;
    private const uint AllNamespaces = 0xFFFFFFFF;

    /// <summary>Length of the 128-bit host identifier Get Features 81h returns.</summary>
    public const int HostIdentifierLength = 16;

    // SEL (Get Features CDW10 bits 10:8).
    private const uint SelectCurrent = 0, SelectDefault = 1, SelectSaved = 2, SelectCapabilities = 3;

    // Capabilities (SEL 3) DW0: bit 0 saveable, bit 1 namespace specific, bit 2 changeable.
    private const uint CapabilityNamespaceSpecific = 1u << 1, CapabilityChangeable = 1u << 2;

    /// <summary>Get Features 81h moves the host identifier; every other feature moves no data.</summary>
    public static NvmeStatus ParseGet(NvmeRequest request)
    {
        ref readonly var command = ref request.Command;
        if ((byte)command.Cdw10 != FeatureId.HostIdentifier || Select(command) == SelectCapabilities)
        {
            return QueueSession.ExpectData(request, DataDirection.None, 0);
        }

        // Fabrics hosts have 128-bit identifiers only: asking for the 64-bit form (EXHID 0) is invalid, as on the Linux target.
        return (command.Cdw11 & ExtendedHostIdBit) == 0
            ? StatusCodes.InvalidField
            : QueueSession.ExpectData(request, DataDirection.ControllerToHost, HostIdentifierLength);
    }

    /// <param name="logger">Where a failure to store the reservation state (feature 83h) is reported.</param>
    public static NvmeStatus Set(NvmeRequest request, Controller controller, ILogger logger)
    {
        ref readonly var command = ref request.Command;
        if ((command.Cdw10 & SaveBit) != 0)
        {
            return StatusCodes.FeatureNotSaveable;
        }

        uint value = command.Cdw11;
        byte feature = (byte)command.Cdw10;
        if (controller.IsDiscovery && feature is not (FeatureId.AsyncEventConfiguration or FeatureId.KeepAliveTimer))
        {
            return StatusCodes.InvalidField;
        }

        switch (feature)
        {
            case FeatureId.NumberOfQueues:
                {
                    // NSQR 15:0 and NCQR 31:16, 0-based; 65535 is invalid. One count serves both.
                    uint submission = value & 0xFFFF, completion = value >> 16;
                    if (submission == 0xFFFF || completion == 0xFFFF)
                    {
                        return StatusCodes.InvalidField;
                    }

                    int granted = controller.SetGrantedIoQueues((int)Math.Min(submission, completion) + 1);
                    request.Result0 = (uint)(granted - 1) | ((uint)(granted - 1) << 16);
                    return NvmeStatus.Success;
                }

            case FeatureId.AsyncEventConfiguration:
                controller.AsyncEventConfiguration = value;
                return NvmeStatus.Success;
            case FeatureId.KeepAliveTimer:
                controller.SetKeepAliveTimeout(value);
                return NvmeStatus.Success;
            case FeatureId.VolatileWriteCache:
                controller.VolatileWriteCacheEnabled = (value & 1) != 0;
                return NvmeStatus.Success;
            case FeatureId.HostIdentifier:
                // On fabrics the host identifier is the one Connect carried; it cannot be set afterwards.
                return StatusCodes.CommandSequenceError;
            case FeatureId.ReservationNotificationMask:
                return ForNamespaces(controller, command.NamespaceId, ns => controller.SetReservationMask(ns.Id, value));
            case FeatureId.ReservationPersistence:
                {
                    var status = NvmeStatus.Success;
                    var found = ForNamespaces(controller, command.NamespaceId, ns =>
                    {
                        var set = ns.Reservations.SetPersistThroughPowerLoss((value & 1) != 0);
                        if (set.StoreFailure is { } failure)
                        {
                            Log.ReservationStoreFailed(logger, controller.Subsystem.Nqn, ns.Id, failure);
                        }

                        status = set.Status.IsSuccess ? status : set.Status;
                    });
                    return found.IsSuccess ? status : found;
                }

            case var fixedAtDefault when IsFixed(fixedAtDefault):
                return StatusCodes.FeatureNotChangeable;
            default:
                return StatusCodes.InvalidField;
        }
    }

    public static NvmeStatus Get(NvmeRequest request, Controller controller)
    {
        ref readonly var command = ref request.Command;
        byte feature = (byte)command.Cdw10;
        if (controller.IsDiscovery && feature is not (FeatureId.AsyncEventConfiguration or FeatureId.KeepAliveTimer))
        {
            return StatusCodes.InvalidField;
        }

        uint select = Select(command);
        if (select > SelectCapabilities)
        {
            return StatusCodes.InvalidField;
        }

        Namespace? ns = null;
        if (feature is FeatureId.ReservationNotificationMask or FeatureId.ReservationPersistence)
        {
            ns = controller.Subsystem.FindNamespace(command.NamespaceId);
            if (ns is null)
            {
                return StatusCodes.InvalidNamespace;
            }
        }

        if (select == SelectCapabilities)
        {
            if (!IsKnown(feature))
            {
                return StatusCodes.InvalidField;
            }

            request.Result0 = Capabilities(feature);
            return NvmeStatus.Success;
        }

        bool current = select == SelectCurrent; // saved reads as the default: nothing is saveable
        switch (feature)
        {
            case FeatureId.NumberOfQueues:
                {
                    int queues = current ? controller.GrantedIoQueues : controller.IoQueueLimit;
                    request.Result0 = (uint)(queues - 1) | ((uint)(queues - 1) << 16);
                    return NvmeStatus.Success;
                }

            case FeatureId.AsyncEventConfiguration:
                request.Result0 = current ? controller.AsyncEventConfiguration : 0;
                return NvmeStatus.Success;
            case FeatureId.KeepAliveTimer:
                request.Result0 = current ? controller.KeepAliveTimeoutMs : controller.ConnectKeepAliveTimeoutMs;
                return NvmeStatus.Success;
            case FeatureId.VolatileWriteCache:
                request.Result0 = !current || controller.VolatileWriteCacheEnabled ? 1u : 0u;
                return NvmeStatus.Success;
            case FeatureId.TemperatureThreshold:
                return TemperatureThreshold(request, command.Cdw11);
            case FeatureId.InterruptVectorConfiguration:
                // No interrupts on TCP: the vector asked about (IV, bits 15:0) with coalescing disabled (CD) clear.
                request.Result0 = command.Cdw11 & 0xFFFF;
                return NvmeStatus.Success;
            case FeatureId.HostIdentifier:
                controller.HostId.TryWriteBytes(request.Data, bigEndian: true, out _);
                return NvmeStatus.Success;
            case FeatureId.ReservationNotificationMask:
                request.Result0 = current ? controller.ReservationMask(ns!.Id) : 0;
                return NvmeStatus.Success;
            case FeatureId.ReservationPersistence:
                request.Result0 = current && ns!.Reservations.Current.PersistThroughPowerLoss ? 1u : 0u;
                return NvmeStatus.Success;
            case var fixedAtDefault when IsFixed(fixedAtDefault):
                request.Result0 = 0;
                return NvmeStatus.Success;
            default:
                return StatusCodes.InvalidField;
        }
    }

    /// <summary>
    /// Temperature Threshold (04h): CDW11 bits 19:16 TMPSEL (0: composite), 21:20 THSEL (0 over,
    /// 1 under). The composite over-temperature threshold is 85 C, above the 30 C the SMART log
    /// reports, so the two agree that nothing is too hot; no other sensor and no under threshold.
    /// </summary>
    private static NvmeStatus TemperatureThreshold(NvmeRequest request, uint cdw11)
    {
        const uint OverThresholdKelvin = 273 + 85;
        uint sensor = (cdw11 >> 16) & 0xF, kind = (cdw11 >> 20) & 0x3;
        if (kind > 1)
        {
            return StatusCodes.InvalidField;
        }

        uint threshold = sensor == 0 && kind == 0 ? OverThresholdKelvin : 0;
        request.Result0 = threshold | (sensor << 16) | (kind << 20);
        return NvmeStatus.Success;
    }

    private static uint Select(in SubmissionQueueEntry command) => (command.Cdw10 >> 8) & 0x7;

    /// <summary>
    /// Fixed at their defaults: no arbitration burst, power state 0, the temperature thresholds
    /// (there is no sensor to set them on), no time-limited error recovery (TLER 0) and no DULBE,
    /// no interrupts on TCP to coalesce or configure, normal write atomicity. Set answers Feature
    /// Not Changeable.
    /// </summary>
    private static bool IsFixed(byte feature) => feature is FeatureId.Arbitration or FeatureId.PowerManagement
        or FeatureId.TemperatureThreshold or FeatureId.ErrorRecovery or FeatureId.InterruptCoalescing
        or FeatureId.InterruptVectorConfiguration or FeatureId.WriteAtomicityNormal;

    private static bool IsKnown(byte feature) => IsFixed(feature) || feature is FeatureId.NumberOfQueues
        or FeatureId.AsyncEventConfiguration or FeatureId.KeepAliveTimer or FeatureId.VolatileWriteCache
        or FeatureId.HostIdentifier or FeatureId.ReservationNotificationMask or FeatureId.ReservationPersistence;

    private static uint Capabilities(byte feature) => feature switch
    {
        FeatureId.NumberOfQueues or FeatureId.AsyncEventConfiguration or FeatureId.KeepAliveTimer or FeatureId.VolatileWriteCache => CapabilityChangeable,
        FeatureId.ReservationNotificationMask or FeatureId.ReservationPersistence => CapabilityChangeable | CapabilityNamespaceSpecific,
        _ => 0,
    };

    /// <summary>Applies a namespace-specific Set Features to one namespace, or to all for NSID FFFFFFFFh.</summary>
    private static NvmeStatus ForNamespaces(Controller controller, uint namespaceId, Action<Namespace> apply)
    {
        if (namespaceId == AllNamespaces)
        {
            foreach (var each in controller.Subsystem.Namespaces)
            {
                apply(each);
            }

            return NvmeStatus.Success;
        }

        if (controller.Subsystem.FindNamespace(namespaceId) is not { } ns)
        {
            return StatusCodes.InvalidNamespace;
        }

        apply(ns);
        return NvmeStatus.Success;
    }
}
