using System.Diagnostics;
using NovaStor.Protocol;

namespace NovaStor.Target.Core.Reservations;

/// <summary>
/// Reservation Register, Report, Acquire and Release on an I/O queue. They are rare and may store
/// the new state durably (PTPL), so they run on the thread pool, never on a reactor; the queue's
/// completion may be sent from any thread. Each command's effect is decided by
/// <see cref="NamespaceReservations"/>; this class decodes it, delivers the notices it owes other
/// hosts and writes the report.
/// </summary>
/// <remarks>
/// While one runs it counts as the queue's work in flight (<paramref name="owner"/>), so a queue
/// that closes meanwhile keeps its buffers until the command has completed; the keys are read on
/// the receive path, before the command leaves it.
/// </remarks>
internal sealed class ReservationCommands(QueueSession queue, IoCommands owner)
{
    /// <summary>The longest Preempt and Abort waits for the preempted hosts' commands to finish.</summary>
    private static readonly TimeSpan AbortDrainLimit = TimeSpan.FromSeconds(5);

    public static bool Handles(byte opcode) => opcode is IoOpcode.ReservationRegister or IoOpcode.ReservationReport
        or IoOpcode.ReservationAcquire or IoOpcode.ReservationRelease;

    /// <summary>
    /// The keys' data may be longer than the keys (the Linux host's block-layer PR calls always
    /// send 16 bytes, Release included): the whole transfer is taken and the keys read from its
    /// start, as nvmet does.
    /// </summary>
    public static NvmeStatus Parse(NvmeRequest request)
    {
        ref readonly var command = ref request.Command;
        switch (command.Opcode)
        {
            case IoOpcode.ReservationRegister:
            case IoOpcode.ReservationAcquire:
                return QueueSession.ExpectDataAtLeast(request, DataDirection.HostToController, ReservationCommandFields.TwoKeysLength);
            case IoOpcode.ReservationRelease:
                return QueueSession.ExpectDataAtLeast(request, DataDirection.HostToController, ReservationCommandFields.OneKeyLength);
            default:
                // Fabrics hosts have 128-bit host identifiers: only the extended report can carry them.
                if (!ReservationCommandFields.ExtendedDataStructure(command.Cdw11))
                {
                    return StatusCodes.HostIdentifierInconsistentFormat;
                }

                return QueueSession.ExpectData(request, DataDirection.ControllerToHost, (command.Cdw10 + 1L) * 4);
        }
    }

    /// <summary>On the receive path: reads the keys, then hands the command to the thread pool.</summary>
    public void Execute(NvmeRequest request)
    {
        ulong currentKey = 0, secondKey = 0;
        if (request.Command.Opcode != IoOpcode.ReservationReport)
        {
            ReadOnlySpan<byte> data = request.Data;
            currentKey = ReservationCommandFields.CurrentKey(data);
            secondKey = data.Length >= ReservationCommandFields.TwoKeysLength ? ReservationCommandFields.SecondKey(data) : 0;
        }

        owner.BeginOffPathWork();
        _ = RunAsync(request, currentKey, secondKey);
    }

    private async Task RunAsync(NvmeRequest request, ulong currentKey, ulong secondKey)
    {
        await Task.Yield(); // off the receive path (a reactor) from here on
        var controller = queue.Controller!;
        var ns = request.Namespace!;
        var command = request.Command;
        NvmeStatus status;
        try
        {
            status = await ExecuteAsync(request, controller, ns, command, currentKey, secondKey).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A bug must cost this command, never the process or the other hosts.
            Log.ReservationCommandFailed(queue.Logger, controller.Subsystem.Nqn, ns.Id, e);
            status = StatusCodes.InternalError;
        }

        try
        {
            queue.Complete(request, status);
        }
        finally
        {
            owner.EndOffPathWork();
        }
    }

    private async Task<NvmeStatus> ExecuteAsync(NvmeRequest request, Controller controller, Namespace ns, SubmissionQueueEntry command, ulong currentKey, ulong secondKey)
    {
        uint cdw10 = command.Cdw10;
        var reservations = ns.Reservations;
        if (command.Opcode == IoOpcode.ReservationReport)
        {
            return WriteReport(request.Data, controller.Subsystem, reservations.Current);
        }

        var action = ReservationCommandFields.Action(cdw10);
        bool ignoreKey = ReservationCommandFields.IgnoreExistingKey(cdw10);
        var type = (ReservationType)ReservationCommandFields.Type(cdw10);
        ReservationOutcome outcome = command.Opcode switch
        {
            IoOpcode.ReservationRegister => reservations.Register(
                controller.HostId, (ReservationRegisterAction)action, ignoreKey, currentKey, secondKey, ReservationCommandFields.PersistChange(cdw10)),
            IoOpcode.ReservationAcquire => reservations.Acquire(
                controller.HostId, (ReservationAcquireAction)action, ignoreKey, type, currentKey, secondKey),
            _ => reservations.Release(controller.HostId, (ReservationReleaseAction)action, ignoreKey, type, currentKey),
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

        if (outcome.Status.IsSuccess && command.Opcode == IoOpcode.ReservationAcquire && action == (byte)ReservationAcquireAction.PreemptAndAbort)
        {
            await DrainPreemptedAsync(controller.Subsystem, outcome.Notices).ConfigureAwait(false);
        }

        Log.ReservationCommand(queue.Logger, controller.Subsystem.Nqn, ns.Id, controller.HostId, controller.Id, Describe(command.Opcode, cdw10), outcome.Status.ToString());
        return outcome.Status;
    }

    /// <summary>
    /// Preempt and Abort completes only once the preempted hosts' commands already running have
    /// finished (none they send afterwards passes the reservation check), so no write of theirs
    /// lands after the host that fenced them is told it succeeded. Commands here run to
    /// completion rather than being cut short; the wait is bounded, and a wait that ends at the
    /// bound is logged.
    /// </summary>
    private async Task DrainPreemptedAsync(Subsystem subsystem, IReadOnlyList<ReservationNotice> notices)
    {
        var queues = notices.Where(n => n.Type == ReservationNotificationType.RegistrationPreempted)
            .SelectMany(n => subsystem.ControllersOf(n.HostId))
            .SelectMany(c => c.ConnectedQueues())
            .Where(q => q.QueueId != 0)
            .ToList();
        var clock = Stopwatch.StartNew();
        while (queues.Count > 0)
        {
            queues.RemoveAll(q => q.EngineRequestsInFlight == 0);
            if (queues.Count == 0)
            {
                return;
            }

            if (clock.Elapsed > AbortDrainLimit)
            {
                Log.PreemptDrainTimedOut(queue.Logger, subsystem.Nqn, queues.Count, (long)AbortDrainLimit.TotalMilliseconds);
                return;
            }

            await Task.Delay(1).ConfigureAwait(false);
        }
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
