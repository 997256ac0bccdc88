using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Protocol;
using NovaStor.Target.Core.Authentication;
using NovaStor.Target.Core.Statistics;

namespace NovaStor.Target.Core;

/// <summary>
/// The controller side of one queue (admin or I/O): routes each command to its command set
/// ("parse, then execute", as the Linux target's nvmet_req_init does) and reports completions
/// to the transport. Parse decides which way data moves and how much, so the transport can
/// move it before execution.
/// </summary>
internal sealed class QueueSession
{
    private readonly FabricsCommands _fabrics;
    private readonly AdminCommands _admin;
    private readonly IoCommands _io;
    private int _submissionQueueHead;
    private volatile bool _authenticationRequired;
    // Closes the connection when a queue that must authenticate has not within the connect timeout.
    private ITimer? _authenticationDeadline;

    /// <summary>The engine lane this queue's I/O runs on (its command buffers come from it).</summary>
    public EngineLane Lane { get; }

    public QueueSession(SubsystemRegistry registry, IQueueTransport transport, ListenerInfo listener, RequestTable requests, TargetLimits limits, TimeProvider time, ILogger logger)
    {
        Registry = registry;
        Transport = transport;
        Listener = listener;
        Port = registry.FindPort(listener.PortId) ?? registry.Ports[0];
        Requests = requests;
        Limits = limits;
        Time = time;
        Logger = logger;
        _fabrics = new FabricsCommands(this);
        _admin = new AdminCommands(this);
        _io = new IoCommands(this);
        Lane = requests.Lane;
    }

    public SubsystemRegistry Registry { get; }
    public IQueueTransport Transport { get; }
    public ListenerInfo Listener { get; }

    /// <summary>The port this queue came through: the ANA states its I/O is checked against.</summary>
    public TargetPort Port { get; }
    public RequestTable Requests { get; }
    public TargetLimits Limits { get; }
    public TimeProvider Time { get; }
    public ILogger Logger { get; }

    /// <summary>Set by a successful Connect.</summary>
    public Controller? Controller { get; private set; }
    public ushort QueueId { get; private set; }

    /// <summary>SQSIZE from Connect, 0-based.</summary>
    public ushort SubmissionQueueSize { get; private set; }
    public bool SqFlowControlDisabled { get; private set; }

    /// <summary>I/O counts and latency of this queue (null on the admin queue): the stats, the metrics and the SMART log read them.</summary>
    public QueueStatistics? Statistics { get; private set; }

    /// <summary>This queue's DH-HMAC-CHAP exchange: null while its host has neither had to authenticate nor tried.</summary>
    public QueueAuthentication? Authentication { get; private set; }

    /// <summary>True while the queue's host must authenticate and has not (every command but Connect and authentication is refused).</summary>
    public bool AuthenticationPending => _authenticationRequired && Authentication?.Authenticated != true;

    /// <summary>
    /// SQHD for the completion of <paramref name="command"/>: the head, advanced once per command
    /// taken from the host. Where the host disabled SQ flow control (Connect CATTR bit 2), the
    /// Connect's own completion carries FFFFh instead, which tells the host that this controller
    /// leaves SQHD out from then on (TP 8005, as nvmet does), and every later completion carries 0.
    /// A host that reads the field depends on it: FreeBSD's keeps flow control on, counting SQHD,
    /// unless its Connect completion says FFFFh, and a read completed by its data alone never
    /// advances a counted head.
    /// </summary>
    public ushort SubmissionQueueHeadFor(in SubmissionQueueEntry command)
    {
        if (!SqFlowControlDisabled)
        {
            return (ushort)Volatile.Read(ref _submissionQueueHead);
        }

        return command.Opcode == AdminOpcode.Fabrics && command.FabricsCommandType == FabricsCommandType.Connect
            ? ConnectResponse.SqFlowControlDisabledHead
            : (ushort)0;
    }

    /// <summary>The controller id for logs, 0xFFFF before Connect.</summary>
    public ushort ControllerIdForLog => Controller?.Id ?? ConnectData.DynamicControllerId;

    public void CommandFetched()
    {
        int size = SubmissionQueueSize + 1;
        int next = _submissionQueueHead + 1;
        Volatile.Write(ref _submissionQueueHead, size > 1 && next >= size ? 0 : next);
    }

    internal void Bind(Controller controller, ushort queueId, ushort submissionQueueSize, bool sqFlowControlDisabled)
    {
        Controller = controller;
        QueueId = queueId;
        SubmissionQueueSize = submissionQueueSize;
        SqFlowControlDisabled = sqFlowControlDisabled;
        Statistics = queueId == 0 ? null : new QueueStatistics();
    }

    /// <summary>
    /// Connect found that the host must authenticate on this queue: until it has, only
    /// authentication commands are served, and the connection closes after
    /// <see cref="TargetLimits.ConnectTimeout"/> if it has not.
    /// </summary>
    internal void RequireAuthentication(HostCredentials credentials, string hostNqn, string subsystemNqn)
    {
        Authentication = new QueueAuthentication(credentials, hostNqn, subsystemNqn);
        _authenticationRequired = true;
        _authenticationDeadline = Time.CreateTimer(static state => ((QueueSession)state!).AuthenticationDeadlinePassed(), this, Limits.ConnectTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The exchange for an authentication command from a host that was not asked to authenticate: it fails (no secret).</summary>
    internal QueueAuthentication AuthenticationForCommand(string hostNqn, string subsystemNqn) =>
        Authentication ??= new QueueAuthentication(null, hostNqn, subsystemNqn);

    /// <summary>The host authenticated: the deadline no longer applies.</summary>
    internal void AuthenticationCompleted() => Interlocked.Exchange(ref _authenticationDeadline, null)?.Dispose();

    /// <summary>A timer thread.</summary>
    private void AuthenticationDeadlinePassed()
    {
        if (Interlocked.Exchange(ref _authenticationDeadline, null) is not { } timer)
        {
            return;
        }

        timer.Dispose();
        if (AuthenticationPending && Controller is { } controller)
        {
            Log.AuthenticationTimedOut(Logger, controller.HostNqn, QueueId, controller.Id, controller.Subsystem.Nqn, Limits.ConnectTimeout.TotalSeconds, Transport.RemoteEndPoint);
            Transport.Disconnect($"not authenticated within {Limits.ConnectTimeout.TotalSeconds:0} s of Connect");
        }
    }

    /// <summary>
    /// Checks a command and sets its data direction and length. A non-success status means the
    /// command completes at once with it, without moving data.
    /// </summary>
    public NvmeStatus Parse(NvmeRequest request)
    {
        ref readonly var command = ref request.Command;

        // Fused operations are not supported, and fabrics commands always use SGLs (PSDT 01b).
        if ((command.Flags & 0x3) != 0 || command.DataTransferType != 1)
        {
            return StatusCodes.InvalidField;
        }

        if (command.Opcode == AdminOpcode.Fabrics)
        {
            return _fabrics.Parse(request);
        }

        if (AuthenticationPending)
        {
            return StatusCodes.AuthenticationRequired;
        }

        var controller = Controller;
        if (controller is null || !controller.IsReady)
        {
            return StatusCodes.CommandSequenceError;
        }

        return QueueId == 0 ? _admin.Parse(request) : _io.Parse(request);
    }

    /// <summary>Runs a parsed command whose host data (if any) has arrived. Completes through the transport.</summary>
    public void Execute(NvmeRequest request)
    {
        // Data buffers are shared by the queues of a reactor and not cleared between commands: a
        // command that returns data it may not write in full starts from zeros (a Read is written
        // in full by the engine, or fails and sends nothing).
        if (request.Direction == DataDirection.ControllerToHost && (QueueId == 0 || request.Command.Opcode != IoOpcode.Read))
        {
            request.Data.Clear();
        }

        if (request.Command.Opcode == AdminOpcode.Fabrics)
        {
            _fabrics.Execute(request);
        }
        else if (QueueId == 0)
        {
            _admin.Execute(request);
        }
        else
        {
            _io.Execute(request);
        }
    }

    /// <summary>Block engine requests still running for this queue.</summary>
    public int EngineRequestsInFlight => _io.InFlight;

    /// <summary>Calls <paramref name="callback"/> once no block engine request of this queue is running (see <see cref="IoCommands.NotifyWhenIdle"/>).</summary>
    public void NotifyWhenEngineIdle(Action callback) => _io.NotifyWhenIdle(callback);

    public void Complete(NvmeRequest request, NvmeStatus status)
    {
        if (!status.IsSuccess)
        {
            Controller?.Errors.Record(QueueId, request.Command, status);
        }

        request.Status = status;
        Transport.Complete(request);
    }

    /// <summary>
    /// The transport is writing the response of a completed command: counted in the queue's
    /// statistics. Called where the transport writes responses (the reactor thread, or under the
    /// socket transport's output lock), so the counters have one writer at a time without a lock
    /// of their own; never after <see cref="Close"/>.
    /// </summary>
    public void CountCompletion(NvmeRequest request) => Statistics?.Record(request);

    /// <summary>The connection ended (no response is written after this): the queue leaves its controller.</summary>
    public void Close()
    {
        AuthenticationCompleted();
        Statistics?.Retire();
        Controller?.Detach(QueueId, this);
    }

    /// <summary>
    /// For commands whose data is a list (DSM ranges, Copy ranges): the SGL may describe more than
    /// the list needs (the Linux host always sends a 4 KiB DSM buffer); the whole transfer is
    /// taken and only the first entries used, as the Linux target does.
    /// </summary>
    internal static NvmeStatus ExpectDataAtLeast(NvmeRequest request, DataDirection direction, long length)
    {
        long described = request.Command.Sgl.Length;
        return described < length ? StatusCodes.SglDataLengthInvalid : ExpectData(request, direction, described);
    }

    /// <summary>Sets the expected transfer, checking it against the length the SGL describes.</summary>
    internal static NvmeStatus ExpectData(NvmeRequest request, DataDirection direction, long length)
    {
        if (length > request.MaxTransfer)
        {
            return StatusCodes.InvalidField;
        }

        if (request.Command.Sgl.Length != length)
        {
            return StatusCodes.SglDataLengthInvalid;
        }

        request.Direction = length == 0 ? DataDirection.None : direction;
        request.DataLength = (int)length;
        return NvmeStatus.Success;
    }
}
