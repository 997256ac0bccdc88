using NovaStor.Protocol;
using NovaStor.Protocol.Authentication;
using NovaStor.Target.Core.Authentication;

namespace NovaStor.Target.Core;

/// <summary>
/// The Fabrics command set (NVMe over Fabrics 1.1 section 3): Connect on every queue, Property
/// Get/Set on the admin queue. The counterpart of the Linux target's fabrics-cmd.c.
/// </summary>
internal sealed class FabricsCommands(QueueSession queue)
{
    /// <summary>CAP.TO: how long a host waits for CSTS.RDY, in 500 ms units.</summary>
    private const byte ReadyTimeoutHalfSeconds = 15;

    /// <summary>
    /// Largest authentication transfer taken: the largest message is a reply with SHA-512 and an
    /// ffdhe8192 value (16 + 2 x 64 + 1024 bytes); the Linux host receives into 4 KiB.
    /// </summary>
    private const uint MaxAuthenticationTransfer = 8192;

    public NvmeStatus Parse(NvmeRequest request)
    {
        byte type = request.Command.FabricsCommandType;
        if (type == FabricsCommandType.Connect)
        {
            return QueueSession.ExpectData(request, DataDirection.HostToController, ConnectData.Length);
        }

        if (queue.Controller is null)
        {
            return StatusCodes.CommandSequenceError;
        }

        if (type is FabricsCommandType.AuthenticationSend or FabricsCommandType.AuthenticationReceive)
        {
            var command = AuthenticationCommand.From(request.Command);
            if (!command.IsDhchap || command.Length is 0 or > MaxAuthenticationTransfer)
            {
                return StatusCodes.InvalidField;
            }

            var direction = type == FabricsCommandType.AuthenticationSend ? DataDirection.HostToController : DataDirection.ControllerToHost;
            return QueueSession.ExpectData(request, direction, command.Length);
        }

        if (queue.QueueId != 0 || type is not (FabricsCommandType.PropertyGet or FabricsCommandType.PropertySet))
        {
            return StatusCodes.InvalidOpcode;
        }

        if (queue.AuthenticationPending)
        {
            return StatusCodes.AuthenticationRequired;
        }

        return QueueSession.ExpectData(request, DataDirection.None, 0);
    }

    public void Execute(NvmeRequest request)
    {
        var status = request.Command.FabricsCommandType switch
        {
            FabricsCommandType.Connect => Connect(request),
            FabricsCommandType.PropertyGet => PropertyGet(request),
            FabricsCommandType.AuthenticationSend => AuthenticationSend(request),
            FabricsCommandType.AuthenticationReceive => AuthenticationReceive(request),
            _ => PropertySet(request),
        };

        queue.Complete(request, status);
    }

    private NvmeStatus Connect(NvmeRequest request)
    {
        if (queue.Controller is not null)
        {
            return StatusCodes.CommandSequenceError;
        }

        var command = ConnectCommand.From(request.Command);
        var data = ConnectData.Read(request.Data);
        if (command.RecordFormat != 0)
        {
            return StatusCodes.ConnectIncompatibleFormat;
        }

        int maxEntries = command.QueueId == 0 ? queue.Limits.MaxAdminQueueEntries : queue.Limits.MaxQueueEntries;
        if (command.SubmissionQueueSize == 0 || command.SubmissionQueueSize >= maxEntries || command.SubmissionQueueSize >= queue.Requests.Capacity)
        {
            return InvalidParameter(request, inData: false, ConnectCommand.SubmissionQueueSizeOffset, $"SQSIZE {command.SubmissionQueueSize} outside 1..{maxEntries - 1}", data);
        }

        var subsystem = queue.Registry.Find(data.SubsystemNqn);
        if (subsystem is null)
        {
            return InvalidParameter(request, inData: true, ConnectData.SubsystemNqnOffset, $"no subsystem {data.SubsystemNqn}", data);
        }

        // A subsystem not linked to this listener is answered as nvmet answers one not on its port: as unknown.
        if (!subsystem.ServedOn(queue.Listener.PortId))
        {
            return InvalidParameter(request, inData: true, ConnectData.SubsystemNqnOffset, $"subsystem {data.SubsystemNqn} is not served on listener {queue.Listener.PortId}", data);
        }

        if (!subsystem.Admits(data.HostNqn))
        {
            request.Result0 = ParameterLocation(inData: true, ConnectData.HostNqnOffset);
            if (queue.Registry.Admission.Throttle.ShouldLog("rejected " + data.HostNqn, out int suppressed))
            {
                Log.HostRejected(queue.Logger, data.HostNqn, subsystem.Nqn, queue.Transport.RemoteEndPoint, suppressed);
            }

            return StatusCodes.ConnectInvalidHost;
        }

        return command.QueueId == 0
            ? ConnectAdminQueue(request, command, data, subsystem)
            : ConnectIoQueue(request, command, data, subsystem);
    }

    private NvmeStatus ConnectAdminQueue(NvmeRequest request, in ConnectCommand command, ConnectData data, Subsystem subsystem)
    {
        if (queue.Port.IsStopped)
        {
            // Accepted just before its listener stopped: the port serves no new controller.
            return StatusCodes.ConnectControllerBusy;
        }

        // Dynamic controller model: the host asks for any controller (0xFFFF, or 0xFFFE).
        if (data.ControllerId < 0xFFFE)
        {
            return InvalidParameter(request, inData: true, ConnectData.ControllerIdOffset, $"CNTLID {data.ControllerId} on an admin queue of a dynamic subsystem", data);
        }

        var admission = queue.Registry.Admission;
        if (admission.TryCreateController(data.HostNqn) is { } overLimit)
        {
            if (admission.Throttle.ShouldLog("controllers " + data.HostNqn, out int suppressed))
            {
                Log.ControllerRefused(queue.Logger, data.HostNqn, subsystem.Nqn, queue.Transport.RemoteEndPoint, overLimit, suppressed);
            }

            return StatusCodes.ConnectControllerBusy;
        }

        uint keepAlive = command.KeepAliveTimeoutMs;
        string hostNqn = data.HostNqn;
        var controller = subsystem.CreateController(id => new Controller(id, subsystem, hostNqn, data.HostId, keepAlive, queue.Time, queue.Logger, queue.Listener.PortId,
            queue.Transport.RemoteEndPoint)
        {
            IoQueueLimit = queue.Limits.MaxIoQueuesPerController,
            Removed = () => admission.RemoveController(hostNqn),
        });
        if (controller is null)
        {
            admission.RemoveController(hostNqn);
            return StatusCodes.ConnectControllerBusy;
        }

        controller.TryAttach(0, queue);
        queue.Bind(controller, 0, command.SubmissionQueueSize, command.SqFlowControlDisabled);
        request.Result0 = ConnectResult(controller, subsystem, data);
        Log.AdminQueueConnected(queue.Logger, subsystem.Nqn, controller.Id, data.HostNqn, keepAlive, command.SubmissionQueueSize + 1, command.SqFlowControlDisabled, queue.Transport.RemoteEndPoint);
        return NvmeStatus.Success;
    }

    private NvmeStatus ConnectIoQueue(NvmeRequest request, in ConnectCommand command, ConnectData data, Subsystem subsystem)
    {
        if (subsystem.IsDiscovery)
        {
            return InvalidParameter(request, inData: false, ConnectCommand.QueueIdOffset, "I/O queue on the discovery subsystem", data);
        }

        // As nvmet_ctrl_find_get: the controller by CNTLID within the subsystem, of the same host
        // NQN. A host library may send a fresh HOSTID in every Connect; that alone is no reason to refuse.
        var controller = subsystem.FindController(data.ControllerId);
        if (controller is null || controller.HostNqn != data.HostNqn)
        {
            return InvalidParameter(request, inData: true, ConnectData.ControllerIdOffset, $"no controller {data.ControllerId} of this host", data);
        }

        if (!controller.IsReady)
        {
            return StatusCodes.CommandSequenceError;
        }

        if (!controller.TryAttach(command.QueueId, queue))
        {
            return InvalidParameter(request, inData: false, ConnectCommand.QueueIdOffset, $"QID {command.QueueId} beyond the {controller.GrantedIoQueues} granted or already connected", data);
        }

        queue.Bind(controller, command.QueueId, command.SubmissionQueueSize, command.SqFlowControlDisabled);
        request.Result0 = ConnectResult(controller, subsystem, data);
        Log.IoQueueConnected(queue.Logger, subsystem.Nqn, controller.Id, command.QueueId, command.SubmissionQueueSize + 1, command.SqFlowControlDisabled, queue.Transport.RemoteEndPoint);
        if (controller.HostId != data.HostId)
        {
            Log.IoQueueHostIdDiffers(queue.Logger, subsystem.Nqn, controller.Id, command.QueueId, data.HostNqn, data.HostId, controller.HostId);
        }

        return NvmeStatus.Success;
    }

    /// <summary>
    /// The Connect result: the controller id, and AUTHREQ when the host must authenticate this queue
    /// (its host entry has a DH-HMAC-CHAP secret). Every queue authenticates on its own, as the Linux
    /// host and target do.
    /// </summary>
    private uint ConnectResult(Controller controller, Subsystem subsystem, ConnectData data)
    {
        var credentials = subsystem.CredentialsOf(data.HostNqn);
        if (credentials is not null)
        {
            queue.RequireAuthentication(credentials, data.HostNqn, subsystem.Nqn);
        }

        return ConnectResponse.Of(controller.Id, credentials is not null);
    }

    private NvmeStatus AuthenticationSend(NvmeRequest request)
    {
        var controller = queue.Controller!;
        var exchange = queue.AuthenticationForCommand(controller.HostNqn, controller.Subsystem.Nqn);
        Report(exchange.Send(request.Data), exchange, controller);
        return NvmeStatus.Success;
    }

    private NvmeStatus AuthenticationReceive(NvmeRequest request)
    {
        var controller = queue.Controller!;
        var exchange = queue.AuthenticationForCommand(controller.HostNqn, controller.Subsystem.Nqn);
        bool written = exchange.Receive(request.Data, out var outcome);
        Report(outcome, exchange, controller);
        return written ? NvmeStatus.Success : StatusCodes.InvalidField;
    }

    /// <summary>Logs the end of an exchange; a failed one on a queue that must authenticate makes the controller fatal, as nvmet does.</summary>
    private void Report(AuthenticationOutcome outcome, QueueAuthentication exchange, Controller controller)
    {
        switch (outcome)
        {
            case AuthenticationOutcome.Succeeded:
                queue.AuthenticationCompleted();
                Log.HostAuthenticated(queue.Logger, controller.HostNqn, queue.QueueId, controller.Id, controller.Subsystem.Nqn, exchange.Description, queue.Transport.RemoteEndPoint);
                break;
            case AuthenticationOutcome.Failed:
                if (queue.Registry.Admission.Throttle.ShouldLog("authentication " + controller.HostNqn, out int suppressed))
                {
                    Log.AuthenticationFailed(queue.Logger, controller.HostNqn, queue.QueueId, controller.Id, controller.Subsystem.Nqn, queue.Transport.RemoteEndPoint,
                        exchange.FailureReason ?? "unknown", suppressed);
                }

                if (queue.AuthenticationPending)
                {
                    controller.MarkFatal();
                }

                break;
        }
    }

    /// <summary>Connect's Invalid Parameters: DW0 carries IPO (bits 15:0) and IATTR (bit 16: in the data).</summary>
    private NvmeStatus InvalidParameter(NvmeRequest request, bool inData, ushort offset, string reason, ConnectData data)
    {
        request.Result0 = ParameterLocation(inData, offset);
        if (queue.Registry.Admission.Throttle.ShouldLog("connect " + data.HostNqn, out int suppressed))
        {
            Log.ConnectRejected(queue.Logger, data.SubsystemNqn, data.HostNqn, reason, queue.Transport.RemoteEndPoint, suppressed);
        }

        return StatusCodes.ConnectInvalidParameters;
    }

    private static uint ParameterLocation(bool inData, ushort offset) => offset | (inData ? 1u << 16 : 0);

    private NvmeStatus PropertyGet(NvmeRequest request)
    {
        var controller = queue.Controller!;
        uint offset = ControllerProperties.Offset(request.Command);
        ulong value;
        if (ControllerProperties.IsEightBytes(request.Command))
        {
            if (offset != ControllerProperties.Capabilities)
            {
                return StatusCodes.InvalidField;
            }

            // MQES is the same on discovery controllers: the Linux host clamps its I/O queue size to it and warns otherwise.
            value = ControllerProperties.CapabilitiesOf((ushort)(queue.Limits.MaxQueueEntries - 1), ReadyTimeoutHalfSeconds, ioCommandSets: !controller.IsDiscovery);
        }
        else
        {
            switch (offset)
            {
                case ControllerProperties.Version:
                    value = ControllerProperties.VersionOf(2, 0);
                    break;
                case ControllerProperties.Configuration:
                    value = controller.Configuration;
                    break;
                case ControllerProperties.Status:
                    value = (uint)controller.Status;
                    break;
                default:
                    return StatusCodes.InvalidField;
            }
        }

        request.Result0 = (uint)value;
        request.Result1 = (uint)(value >> 32);
        return NvmeStatus.Success;
    }

    private NvmeStatus PropertySet(NvmeRequest request)
    {
        var controller = queue.Controller!;
        if (ControllerProperties.IsEightBytes(request.Command) || ControllerProperties.Offset(request.Command) != ControllerProperties.Configuration)
        {
            return StatusCodes.InvalidField;
        }

        uint value = (uint)ControllerProperties.SetValue(request.Command);
        var configuration = new ControllerConfiguration(value);
        if (configuration.Enable && !IsSupportedConfiguration(configuration, controller.IsDiscovery))
        {
            // As the Linux target does: an unusable configuration is a controller fatal status.
            Log.BadConfiguration(queue.Logger, controller.Subsystem.Nqn, controller.Id, value);
            controller.SetConfiguration(value & ~1u, static then => then());
            controller.MarkFatal();
            return NvmeStatus.Success;
        }

        controller.SetConfiguration(value, then => FlushAll(controller, then));
        return NvmeStatus.Success;
    }

    private static bool IsSupportedConfiguration(ControllerConfiguration configuration, bool discovery) =>
        configuration.MemoryPageSize == 0
        && (discovery || (configuration.IoSubmissionQueueEntrySize == 6 && configuration.IoCompletionQueueEntrySize == 4))
        && configuration.CommandSetSelected is 0 or 6 or 7;

    /// <summary>Flushes every namespace of the controller's subsystem, then runs <paramref name="then"/>.</summary>
    private void FlushAll(Controller controller, Action then)
    {
        var namespaces = controller.Subsystem.Namespaces;
        if (namespaces.Count == 0)
        {
            then();
            return;
        }

        var barrier = new FlushBarrier(namespaces.Count, then, queue.Logger, controller);
        foreach (var ns in namespaces)
        {
            ns.Volume.Submit(new BlockEngine.BlockRequest(BlockEngine.BlockOperation.Flush, 0, 0), barrier, ns.Id);
        }
    }

    /// <summary>Counts flush completions during shutdown (admin path, allocation is fine).</summary>
    private sealed class FlushBarrier(int count, Action then, Microsoft.Extensions.Logging.ILogger logger, Controller controller) : BlockEngine.IBlockCompletion
    {
        private int _remaining = count;

        public void OnBlockCompleted(ulong userData, int error)
        {
            if (error != 0)
            {
                Log.ShutdownFlushFailed(logger, controller.Subsystem.Nqn, controller.Id, (uint)userData, error);
            }

            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                then();
            }
        }
    }
}
