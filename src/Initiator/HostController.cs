using System.Net;
using NovaStor.Initiator.Authentication;
using NovaStor.Protocol;

namespace NovaStor.Initiator;

/// <summary>Who the host is: its NQN and host identifier, stable across connections.</summary>
public sealed record HostIdentity(string HostNqn, Guid HostId)
{
    public static HostIdentity Create()
    {
        var id = Guid.NewGuid();
        return new HostIdentity($"nqn.2014-08.org.nvmexpress:uuid:{id}", id);
    }
}

/// <summary>
/// A controller seen from the host at the wire level: the admin queue (Connect, enable,
/// Identify) and the I/O queues it creates, with no keep-alive or reconnect of its own. For
/// tools and tests; applications use <see cref="NvmeController"/>, which builds on it.
/// </summary>
public sealed class HostController : IAsyncDisposable
{
    /// <summary>Admin queue entries, as the Linux host uses.</summary>
    public const int AdminQueueEntries = 32;

    private readonly List<HostQueue> _ioQueues = [];

    private HostController(HostQueue admin, EndPoint endPoint, string subsystemNqn, HostIdentity host, ushort controllerId, HostQueueOptions options)
    {
        Admin = admin;
        EndPoint = endPoint;
        SubsystemNqn = subsystemNqn;
        Host = host;
        ControllerId = controllerId;
        Options = options;
    }

    public HostQueue Admin { get; }
    public EndPoint EndPoint { get; }
    public string SubsystemNqn { get; }
    public HostIdentity Host { get; }
    public ushort ControllerId { get; }
    public HostQueueOptions Options { get; }
    public IReadOnlyList<HostQueue> IoQueues => _ioQueues;

    /// <summary>Connects the admin queue and, unless told not to, enables the controller.</summary>
    public static async Task<HostController> ConnectAsync(EndPoint endPoint, string subsystemNqn, HostIdentity host, uint keepAliveMs = 0, HostQueueOptions? options = null, bool enable = true, CancellationToken cancellationToken = default)
    {
        options ??= new HostQueueOptions();
        // The admin queue is connected with SQSIZE 31 below: 32 command slots.
        var admin = await HostQueue.ConnectAsync(endPoint, options with { QueueDepth = AdminQueueEntries }, cancellationToken).ConfigureAwait(false);
        try
        {
            var data = new byte[ConnectData.Length];
            new ConnectData(host.HostId, ConnectData.DynamicControllerId, subsystemNqn, host.HostNqn).WriteTo(data);
            var completion = await admin.SubmitAsync(NvmeCommands.Connect(0, AdminQueueEntries - 1, keepAliveMs, ConnectAttributes(options)), data, default, cancellationToken).ConfigureAwait(false);
            Check("Connect", completion);
            admin.SqFlowControlDisabled = options.DisableSqFlowControl && ConnectResponse.DisablesSqFlowControl(completion);
            if (ConnectResponse.RequiresAuthentication(completion.Dw0))
            {
                await DhchapHostExchange.AuthenticateAsync(admin, 0, options.Authentication, host.HostNqn, subsystemNqn, cancellationToken).ConfigureAwait(false);
            }

            var controller = new HostController(admin, endPoint, subsystemNqn, host, ConnectResponse.ControllerId(completion.Dw0), options);
            if (enable)
            {
                await controller.EnableAsync(cancellationToken).ConfigureAwait(false);
            }

            return controller;
        }
        catch
        {
            await admin.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>CATTR of a Connect on a queue with these options.</summary>
    private static byte ConnectAttributes(HostQueueOptions options) => options.DisableSqFlowControl ? ConnectCommand.DisableSqFlowControl : (byte)0;

    /// <summary>The Linux host's enable sequence: CC with IOSQES 6, IOCQES 4, CSS 110b and EN, then wait for CSTS.RDY.</summary>
    public async Task EnableAsync(CancellationToken cancellationToken = default)
    {
        const uint configuration = 1 | (6u << 4) | (6u << 16) | (4u << 20);
        Check("Property Set CC", await Admin.SubmitAsync(NvmeCommands.PropertySet(ControllerProperties.Configuration, configuration), cancellationToken: cancellationToken).ConfigureAwait(false));
        for (int attempt = 0; attempt < 100; attempt++)
        {
            var status = await Admin.SubmitAsync(NvmeCommands.PropertyGet(ControllerProperties.Status, false), cancellationToken: cancellationToken).ConfigureAwait(false);
            Check("Property Get CSTS", status);
            if ((status.Dw0 & (uint)ControllerStatus.ControllerFatalStatus) != 0)
            {
                throw new NvmeTransportException("controller reports fatal status (CSTS.CFS) after enable");
            }

            if ((status.Dw0 & (uint)ControllerStatus.Ready) != 0)
            {
                return;
            }

            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException("controller did not become ready");
    }

    /// <summary>Connects I/O queue <paramref name="queueId"/> with <paramref name="entries"/> entries.</summary>
    public async Task<HostQueue> ConnectIoQueueAsync(ushort queueId, int entries = 128, HostQueueOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= Options;
        var queue = await HostQueue.ConnectAsync(EndPoint, options with { QueueDepth = entries }, cancellationToken).ConfigureAwait(false);
        try
        {
            var data = new byte[ConnectData.Length];
            new ConnectData(Host.HostId, ControllerId, SubsystemNqn, Host.HostNqn).WriteTo(data);
            var completion = await queue.SubmitAsync(NvmeCommands.Connect(queueId, (ushort)(entries - 1), 0, ConnectAttributes(options)), data, default, cancellationToken).ConfigureAwait(false);
            Check($"Connect I/O queue {queueId}", completion);
            queue.SqFlowControlDisabled = options.DisableSqFlowControl && ConnectResponse.DisablesSqFlowControl(completion);
            if (ConnectResponse.RequiresAuthentication(completion.Dw0))
            {
                await DhchapHostExchange.AuthenticateAsync(queue, queueId, options.Authentication, Host.HostNqn, SubsystemNqn, cancellationToken).ConfigureAwait(false);
            }
            _ioQueues.Add(queue);
            return queue;
        }
        catch
        {
            await queue.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Authenticates the admin queue again with DH-HMAC-CHAP (re-authentication, as the Linux host
    /// does when its secret changes), with <see cref="HostQueueOptions.Authentication"/>.
    /// </summary>
    /// <exception cref="NvmeAuthenticationException">The controller refused, or could not prove itself.</exception>
    public Task AuthenticateAsync(CancellationToken cancellationToken = default) =>
        DhchapHostExchange.AuthenticateAsync(Admin, 0, Options.Authentication, Host.HostNqn, SubsystemNqn, cancellationToken);

    /// <summary>Runs an admin command that returns data and checks its status.</summary>
    public async Task<byte[]> ReadAdminDataAsync(string operation, SubmissionQueueEntry command, int length, CancellationToken cancellationToken = default)
    {
        var data = new byte[length];
        Check(operation, await Admin.SubmitAsync(command, default, data, cancellationToken).ConfigureAwait(false));
        return data;
    }

    public Task<byte[]> IdentifyAsync(byte cns, uint namespaceId = 0, CancellationToken cancellationToken = default) =>
        ReadAdminDataAsync($"Identify CNS {cns:X2}h", NvmeCommands.Identify(cns, namespaceId), IdentifyCns.IdentifyDataLength, cancellationToken);

    /// <summary>Throws <see cref="NvmeCommandException"/> unless the completion succeeded.</summary>
    public static void Check(string operation, CompletionQueueEntry completion)
    {
        if (!completion.Status.IsSuccess)
        {
            throw new NvmeCommandException(operation, completion.Status);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var queue in _ioQueues)
        {
            await queue.DisposeAsync().ConfigureAwait(false);
        }

        await Admin.DisposeAsync().ConfigureAwait(false);
    }
}
