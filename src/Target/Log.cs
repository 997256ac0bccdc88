using Microsoft.Extensions.Logging;
using NovaStor.Protocol;

namespace NovaStor.Target;

/// <summary>
/// Every log message of the target, source generated, with stable event ids. Queue-level messages
/// carry the queue id (qid) and controller id (cntlid; 65535 before Connect).
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Connection from {Remote}: header digest {HeaderDigest}, data digest {DataDigest}")]
    public static partial void ConnectionInitialized(ILogger logger, string remote, bool headerDigest, bool dataDigest);

    [LoggerMessage(2, LogLevel.Information, "Controller {ControllerId} of {Subsystem} created for host {HostNqn} (KATO {KeepAliveMs} ms, {Entries} admin entries, SQ flow control disabled: {SqFlowControlDisabled}) from {Remote}")]
    public static partial void AdminQueueConnected(ILogger logger, string subsystem, ushort controllerId, string hostNqn, uint keepAliveMs, int entries, bool sqFlowControlDisabled, string remote);

    [LoggerMessage(3, LogLevel.Debug, "I/O queue {QueueId} of controller {ControllerId} ({Subsystem}) connected with {Entries} entries (SQ flow control disabled: {SqFlowControlDisabled}) from {Remote}")]
    public static partial void IoQueueConnected(ILogger logger, string subsystem, ushort controllerId, ushort queueId, int entries, bool sqFlowControlDisabled, string remote);

    [LoggerMessage(4, LogLevel.Warning, "Connect to {Subsystem} from host {HostNqn} at {Remote} rejected: {Reason} ({Suppressed} more refused Connects of this host in the last minute not logged)")]
    public static partial void ConnectRejected(ILogger logger, string subsystem, string hostNqn, string reason, string remote, int suppressed);

    [LoggerMessage(5, LogLevel.Warning, "Host {HostNqn} is not allowed on {Subsystem}; Connect from {Remote} refused ({Suppressed} more such refusals of this host in the last minute not logged)")]
    public static partial void HostRejected(ILogger logger, string hostNqn, string subsystem, string remote, int suppressed);

    [LoggerMessage(6, LogLevel.Information, "Controller {ControllerId} of {Subsystem} reset by the host")]
    public static partial void ControllerReset(ILogger logger, string subsystem, ushort controllerId);

    [LoggerMessage(7, LogLevel.Information, "Controller {ControllerId} of {Subsystem} shut down; writes are durable")]
    public static partial void ControllerShutdown(ILogger logger, string subsystem, ushort controllerId);

    [LoggerMessage(8, LogLevel.Information, "Controller {ControllerId} of {Subsystem} removed: {Reason}")]
    public static partial void ControllerTeardown(ILogger logger, string subsystem, ushort controllerId, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Keep-alive expired for controller {ControllerId} of {Subsystem} (host {HostNqn}): nothing for {IdleMs} ms, KATO {KeepAliveMs} ms; tearing down its queues")]
    public static partial void KeepAliveExpired(ILogger logger, string subsystem, ushort controllerId, string hostNqn, long idleMs, uint keepAliveMs);

    [LoggerMessage(10, LogLevel.Warning, "Controller {ControllerId} of {Subsystem}: unsupported CC 0x{Configuration:X8}; controller fatal status set")]
    public static partial void BadConfiguration(ILogger logger, string subsystem, ushort controllerId, uint configuration);

    [LoggerMessage(11, LogLevel.Error, "Controller {ControllerId} of {Subsystem}: flush of namespace {NamespaceId} at shutdown failed with errno {Errno}")]
    public static partial void ShutdownFlushFailed(ILogger logger, string subsystem, ushort controllerId, uint namespaceId, int errno);

    [LoggerMessage(12, LogLevel.Error, "Queue {QueueId} of controller {ControllerId} ({Remote}) failed; closing this connection only")]
    public static partial void QueueFailed(ILogger logger, Exception exception, ushort queueId, ushort controllerId, string remote);

    [LoggerMessage(13, LogLevel.Warning, "Queue {QueueId} of controller {ControllerId} ({Remote}): host terminated the connection, FES {Status} FEI {Information}")]
    public static partial void HostTerminated(ILogger logger, ushort queueId, ushort controllerId, string remote, FatalErrorStatus status, uint information);

    [LoggerMessage(14, LogLevel.Warning, "Queue {QueueId} of controller {ControllerId}: data digest error on command {CommandId}; failing it with a data transfer error")]
    public static partial void DataDigestError(ILogger logger, ushort queueId, ushort controllerId, ushort commandId);

    [LoggerMessage(15, LogLevel.Debug, "Queue {QueueId} of controller {ControllerId}: command {CommandId} opcode 0x{Opcode:X2} failed: {Status}")]
    public static partial void CommandRejected(ILogger logger, ushort queueId, ushort controllerId, ushort commandId, byte opcode, string status);

    [LoggerMessage(16, LogLevel.Warning, "Queue {QueueId} of controller {ControllerId} ({Remote}): fatal transport error {Status} (FEI {Information}): {Reason}; sending C2HTermReq and closing this connection")]
    public static partial void FatalTransportError(ILogger logger, ushort queueId, ushort controllerId, string remote, FatalErrorStatus status, uint information, string reason);

    [LoggerMessage(43, LogLevel.Warning, "Connection from {Remote} closed: {Reason}")]
    public static partial void ConnectTimedOut(ILogger logger, string remote, string reason);

    [LoggerMessage(17, LogLevel.Debug, "Queue {QueueId} of controller {ControllerId} ({Remote}) closed: {Reason}")]
    public static partial void QueueClosed(ILogger logger, ushort queueId, ushort controllerId, string remote, string reason);

    [LoggerMessage(18, LogLevel.Error, "Queue {QueueId} of controller {ControllerId}: {Count} block requests still running after 30 s; keeping their buffers allocated")]
    public static partial void BuffersLeaked(ILogger logger, ushort queueId, ushort controllerId, int count);

    [LoggerMessage(19, LogLevel.Information, "Serving {Subsystem} namespace {NamespaceId}: {Path} ({SizeBytes} bytes, {BlockSize}-byte blocks)")]
    public static partial void NamespaceServed(ILogger logger, string subsystem, uint namespaceId, string path, long sizeBytes, int blockSize);

    [LoggerMessage(20, LogLevel.Information, "NVMe/TCP listening on {Address}:{Port}. Connect a Linux host with: nvme connect -t tcp -a {ConnectAddress} -s {Port} -n {Subsystem}")]
    public static partial void Listening(ILogger logger, string address, int port, string connectAddress, string subsystem);

    [LoggerMessage(21, LogLevel.Warning, "Subsystem {Subsystem} namespace {NamespaceId}: allocation query failed ({Reason}); reporting the namespace fully allocated")]
    public static partial void AllocationQueryFailed(ILogger logger, string subsystem, uint namespaceId, string reason);

    [LoggerMessage(22, LogLevel.Warning, "Subsystem {Subsystem} namespace {NamespaceId}: volume {Volume} is {SizeBytes} bytes with {BlockSize}-byte blocks in the catalog, configured {ConfiguredSize} and {ConfiguredBlockSize}; the catalog's values are served")]
    public static partial void CatalogDiffers(ILogger logger, string subsystem, uint namespaceId, string volume, long sizeBytes, int blockSize, long configuredSize, int configuredBlockSize);

    [LoggerMessage(23, LogLevel.Information, "NVMe/TCP transport: {Transport}; {Reason}")]
    public static partial void TransportChosen(ILogger logger, string transport, string reason);

    [LoggerMessage(30, LogLevel.Warning, "Serving {Subsystem} namespace {NamespaceId} from memory ({SizeBytes} bytes, {BlockSize}-byte blocks): its contents are lost when the target stops")]
    public static partial void MemoryNamespaceServed(ILogger logger, string subsystem, uint namespaceId, long sizeBytes, int blockSize);

    [LoggerMessage(31, LogLevel.Warning, "Serving {Subsystem} namespace {NamespaceId} from the NULL backend ({SizeBytes} bytes, {BlockSize}-byte blocks): WRITES ARE DISCARDED and reads return zeroes; for transport benchmarks only, never for data")]
    public static partial void NullNamespaceServed(ILogger logger, string subsystem, uint namespaceId, long sizeBytes, int blockSize);

    [LoggerMessage(32, LogLevel.Debug, "I/O queue {QueueId} of controller {ControllerId} ({Subsystem}) connected by {HostNqn} with host ID {ConnectHostId}, not the admin queue's {ControllerHostId}; accepted, as the Linux target does")]
    public static partial void IoQueueHostIdDiffers(ILogger logger, string subsystem, ushort controllerId, ushort queueId, string hostNqn, Guid connectHostId, Guid controllerHostId);

    [LoggerMessage(33, LogLevel.Error, "Reservation state of {Subsystem} namespace {NamespaceId} could not be stored (PTPL); the command failed and the state did not change: {Reason}")]
    public static partial void ReservationStoreFailed(ILogger logger, string subsystem, uint namespaceId, string reason);

    [LoggerMessage(34, LogLevel.Information, "Reservation on {Subsystem} namespace {NamespaceId} by host {HostId} (controller {ControllerId}): {Command} answered {Status}")]
    public static partial void ReservationCommand(ILogger logger, string subsystem, uint namespaceId, Guid hostId, ushort controllerId, string command, string status);

    [LoggerMessage(35, LogLevel.Information, "Restored the persistent reservation state of {Subsystem} namespace {NamespaceId}: {Registrants} registrants, reservation type {Type}")]
    public static partial void ReservationRestored(ILogger logger, string subsystem, uint namespaceId, int registrants, ReservationType type);

    [LoggerMessage(36, LogLevel.Error, "Reservation command on {Subsystem} namespace {NamespaceId} failed inside the target; answered Internal Error")]
    public static partial void ReservationCommandFailed(ILogger logger, string subsystem, uint namespaceId, Exception exception);

    [LoggerMessage(37, LogLevel.Warning, "Preempt and Abort on {Subsystem}: {Queues} queue(s) of the preempted hosts still had commands running after {LimitMs} ms; completing anyway")]
    public static partial void PreemptDrainTimedOut(ILogger logger, string subsystem, int queues, long limitMs);

    [LoggerMessage(38, LogLevel.Warning, "Subsystem {Subsystem} namespace {NamespaceId}: volume {Volume} is no longer in the catalog (a delete was interrupted); the namespace is dropped")]
    public static partial void ExportedVolumeMissing(ILogger logger, string subsystem, uint namespaceId, string volume);

    [LoggerMessage(39, LogLevel.Warning, "Volume {Volume}: every region is reported changed until the map is cleared: {Reason}")]
    public static partial void ChangeMapUnknown(ILogger logger, string volume, string reason);

    [LoggerMessage(40, LogLevel.Warning, "The change map {Path} could not be saved ({Reason}); the volume's changes will be reported unknown at the next start")]
    public static partial void ChangeMapNotSaved(ILogger logger, string path, string reason);

    [LoggerMessage(80, LogLevel.Information, "Subsystem {Subsystem}: {Hosts} host(s) must authenticate with DH-HMAC-CHAP")]
    public static partial void AuthenticationConfigured(ILogger logger, string subsystem, int hosts);

    [LoggerMessage(81, LogLevel.Information, "Host {HostNqn} authenticated on queue {QueueId} of controller {ControllerId} of {Subsystem} ({Method}) from {Remote}")]
    public static partial void HostAuthenticated(ILogger logger, string hostNqn, ushort queueId, ushort controllerId, string subsystem, string method, string remote);

    [LoggerMessage(82, LogLevel.Warning, "Authentication of host {HostNqn} failed on queue {QueueId} of controller {ControllerId} of {Subsystem} from {Remote}: {Reason} ({Suppressed} more failures of this host in the last minute not logged)")]
    public static partial void AuthenticationFailed(ILogger logger, string hostNqn, ushort queueId, ushort controllerId, string subsystem, string remote, string reason, int suppressed);

    [LoggerMessage(83, LogLevel.Warning, "Host {HostNqn} did not authenticate queue {QueueId} of controller {ControllerId} of {Subsystem} within {Seconds} s of Connect; closing the connection from {Remote}")]
    public static partial void AuthenticationTimedOut(ILogger logger, string hostNqn, ushort queueId, ushort controllerId, string subsystem, double seconds, string remote);

    [LoggerMessage(84, LogLevel.Warning, "Connect of host {HostNqn} to {Subsystem} from {Remote} refused with Controller Busy: {Reason} ({Suppressed} more such refusals of this host in the last minute not logged)")]
    public static partial void ControllerRefused(ILogger logger, string hostNqn, string subsystem, string remote, string reason, int suppressed);

    [LoggerMessage(85, LogLevel.Warning, "Connection from {Remote} closed at accept: {Reason} ({Suppressed} more from this address in the last minute not logged)")]
    public static partial void ConnectionRefused(ILogger logger, string remote, string reason, int suppressed);

    [LoggerMessage(86, LogLevel.Warning, "Queue {QueueId} of controller {ControllerId} from {Remote}: the host read nothing of a pending send for {Seconds} s; closing it (it held {Buffers} data buffers)")]
    public static partial void SendStalled(ILogger logger, ushort queueId, ushort controllerId, string remote, double seconds, int buffers);
}
