using NovaStor.Protocol;

namespace NovaStor.Target.Core.Reservations;

/// <summary>
/// Reservation Register, Report, Acquire and Release on an I/O queue. They are rare and may store
/// the new state durably (PTPL), so they run on the thread pool, never on a reactor; the queue's
/// completion may be sent from any thread. Each command's effect is decided by
/// <see cref="NamespaceReservations"/>; this class decodes it, delivers the notices it owes other
/// hosts and writes the report.
/// </summary>
internal sealed class ReservationCommands(QueueSession queue)
{
    public static bool Handles(byte opcode) => opcode is IoOpcode.ReservationRegister or IoOpcode.ReservationReport
        or IoOpcode.ReservationAcquire or IoOpcode.ReservationRelease;

    public static NvmeStatus Parse(NvmeRequest request)
    {
        ref readonly var command = ref request.Command;
        switch (command.Opcode)
        {
            case IoOpcode.ReservationRegister:
            case IoOpcode.ReservationAcquire:
                return QueueSession.ExpectData(request, DataDirection.HostToController, ReservationCommandFields.TwoKeysLength);
            case IoOpcode.ReservationRelease:
                return QueueSession.ExpectData(request, DataDirection.HostToController, ReservationCommandFields.OneKeyLength);
            default:
                // Fabrics hosts have 128-bit host identifiers: only the extended report can carry them.
                if (!ReservationCommandFields.ExtendedDataStructure(command.Cdw11))
                {
                    return StatusCodes.HostIdentifierInconsistentFormat;
                }

                return QueueSession.ExpectData(request, DataDirection.ControllerToHost, (command.Cdw10 + 1L) * 4);
        }
    }

    public void Execute(NvmeRequest request) =>
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Commands.Run(state.Request), (Commands: this, Request: request), preferLocal: false);

    private void Run(NvmeRequest request)
    {
        var controller = queue.Controller!;
        var ns = request.Namespace!;
        ref readonly var command = ref request.Command;
        uint cdw10 = command.Cdw10;
        ReadOnlySpan<byte> data = request.Data;
        var reservations = ns.Reservations;
        ReservationOutcome outcome = command.Opcode switch
        {
            IoOpcode.ReservationRegister => reservations.Register(
                controller.HostId, (ReservationRegisterAction)ReservationCommandFields.Action(cdw10), ReservationCommandFields.IgnoreExistingKey(cdw10),
                ReservationCommandFields.CurrentKey(data), ReservationCommandFields.SecondKey(data), ReservationCommandFields.PersistChange(cdw10)),
            IoOpcode.ReservationAcquire => reservations.Acquire(
                controller.HostId, (ReservationAcquireAction)ReservationCommandFields.Action(cdw10), ReservationCommandFields.IgnoreExistingKey(cdw10),
                (ReservationType)ReservationCommandFields.Type(cdw10), ReservationCommandFields.CurrentKey(data), ReservationCommandFields.SecondKey(data)),
            IoOpcode.ReservationRelease => reservations.Release(
                controller.HostId, (ReservationReleaseAction)ReservationCommandFields.Action(cdw10), ReservationCommandFields.IgnoreExistingKey(cdw10),
                (ReservationType)ReservationCommandFields.Type(cdw10), ReservationCommandFields.CurrentKey(data)),
            _ => ReservationOutcome.Of(WriteReport(request.Data, controller.Subsystem, reservations.Current)),
        };

        if (outcome.StoreFailure is { } failure)
        {
            Log.ReservationStoreFailed(queue.Logger, controller.Subsystem.Nqn, ns.Id, failure);
        }

        foreach (var notice in outcome.Notices)
        {
            foreach (var other in controller.Subsystem.ControllersOf(notice.HostId))
            {
                other.NotifyReservation(ns.Id, notice.Type);
            }
        }

        if (command.Opcode != IoOpcode.ReservationReport)
        {
            Log.ReservationCommand(queue.Logger, controller.Subsystem.Nqn, ns.Id, controller.HostId, controller.Id, Describe(command.Opcode, cdw10), outcome.Status.ToString());
        }

        queue.Complete(request, outcome.Status);
    }

    /// <summary>
    /// The extended Reservation Status data: one entry per controller of each registered host (its
    /// CNTLID), or one with CNTLID FFFFh for a registrant without a controller now; cut to the
    /// length the host asked for.
    /// </summary>
    private static NvmeStatus WriteReport(Span<byte> destination, Subsystem subsystem, ReservationState state)
    {
        var entries = new List<RegisteredController>();
        foreach (var registrant in state.Registrants)
        {
            bool holds = state.IsHolder(registrant.HostId);
            var controllers = subsystem.ControllersOf(registrant.HostId);
            if (controllers.Length == 0)
            {
                entries.Add(new RegisteredController(ReservationStatus.NoController, holds, registrant.HostId, registrant.Key));
            }

            foreach (var controller in controllers)
            {
                entries.Add(new RegisteredController(controller.Id, holds, registrant.HostId, registrant.Key));
            }
        }

        var report = new ReservationStatus(state.Generation, state.Type, state.PersistThroughPowerLoss, entries);
        var page = new byte[ReservationStatus.GetLength(entries.Count, extended: true)];
        report.WriteTo(page, extended: true);
        LogPageWindow.Copy(page, 0, destination);
        return NvmeStatus.Success;
    }

    private static string Describe(byte opcode, uint cdw10) => opcode switch
    {
        IoOpcode.ReservationRegister => $"register action {ReservationCommandFields.Action(cdw10)}",
        IoOpcode.ReservationAcquire => $"acquire action {ReservationCommandFields.Action(cdw10)} type {ReservationCommandFields.Type(cdw10)}",
        _ => $"release action {ReservationCommandFields.Action(cdw10)} type {ReservationCommandFields.Type(cdw10)}",
    };
}
