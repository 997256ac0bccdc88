using System.CommandLine;
using System.Net;
using NovaStor.Initiator;
using NovaStor.Initiator.Authentication;
using NovaStor.Initiator.Discovery;

namespace NovaStor.Cli;

/// <summary>
/// The connection options every command takes, named as nvme-cli's fabrics commands name them.
/// A new set per command: discover's -n has a default where the others require one.
/// </summary>
internal sealed class FabricsOptions
{
    public const string DefaultAddress = "127.0.0.1";
    public const int DefaultServiceId = 4420;

    public Option<string> Address { get; } = new("--traddr", "-a")
    {
        Description = "Target IP address (or host name)",
        DefaultValueFactory = _ => DefaultAddress,
        HelpName = "address",
    };

    public Option<int> ServiceId { get; } = new("--trsvcid", "-s")
    {
        Description = "Target TCP port (transport service id). -s is the port on every command, never a start block",
        DefaultValueFactory = _ => DefaultServiceId,
        CustomParser = Numbers.Parser(1, (int)ushort.MaxValue, "--trsvcid"),
        HelpName = "port",
    };

    public Option<string> Nqn { get; }

    public Option<string?> HostNqn { get; } = new("--hostnqn", "-q")
    {
        Description = "Host NQN (default: a fresh nqn.2014-08.org.nvmexpress:uuid:... per run)",
        HelpName = "nqn",
    };

    public Option<Guid?> HostId { get; } = new("--hostid", "-I")
    {
        Description = "Host identifier (a UUID; default: the UUID in --hostnqn, else a fresh one)",
        HelpName = "uuid",
    };

    public Option<string?> DhchapSecret { get; } = new("--dhchap-secret")
    {
        Description = "DH-HMAC-CHAP host secret (DHHC-1:XX:...:, as nvme gen-dhchap-key prints) for a subsystem that requires in-band authentication",
        HelpName = "secret",
    };

    public Option<string?> DhchapControllerSecret { get; } = new("--dhchap-ctrl-secret")
    {
        Description = "DH-HMAC-CHAP controller secret: the target must prove it holds it too (bidirectional authentication); needs --dhchap-secret",
        HelpName = "secret",
    };

    public Option<bool> HeaderDigest { get; } = new("--hdr-digest", "-g") { Description = "Enable the PDU header digest (CRC32C)" };

    public Option<bool> DataDigest { get; } = new("--data-digest", "-G") { Description = "Enable the PDU data digest (CRC32C)" };

    public Option<bool> DisableSqFlow { get; } = new("--disable-sqflow")
    {
        Description = "Disable SQ flow control (Connect CATTR bit 2): the target may complete a successful read with its data PDU alone, one PDU less per read",
    };

    public Option<int> IoQueues { get; } = new("--nr-io-queues", "-i")
    {
        Description = "I/O queues (TCP connections) to ask for",
        DefaultValueFactory = _ => 1,
        CustomParser = Numbers.Parser(1, ushort.MaxValue - 1, "--nr-io-queues"),
        HelpName = "count",
    };

    public Option<int> ControllerLossTimeout { get; } = new("--ctrl-loss-tmo", "-l")
    {
        // A one-shot tool should not sit for nvme-cli's 600 s when the target goes away mid-command.
        Description = "Seconds to keep reconnecting after a connection breaks before failing the command",
        DefaultValueFactory = _ => 10,
        CustomParser = Numbers.Parser(0, 86400, "--ctrl-loss-tmo"),
        HelpName = "seconds",
    };

    public Option<int> PollMicroseconds { get; } = new("--poll-us")
    {
        Description = "Longest an I/O queue polls for an answer before it sleeps, in microseconds (learnt per queue: it polls only while answers come within it; 0 never polls, the least CPU)",
        DefaultValueFactory = _ => NvmeConnectionOptions.DefaultPollMicroseconds,
        CustomParser = Numbers.Parser(0, NvmeConnectionOptions.MaxPollMicroseconds, "--poll-us"),
        HelpName = "microseconds",
    };

    /// <summary>More paths to the same subsystem (ADDRESS:PORT, repeatable): NvmeConnectionOptions.AdditionalPaths.</summary>
    public Option<IPEndPoint[]> Paths { get; } = new("--path")
    {
        Description = "Another path to the same subsystem, as ADDRESS:PORT ([ADDRESS]:PORT for IPv6); repeatable. "
            + "I/O goes where ANA says (optimized, else non-optimized) and moves to another path on a path error or a lost connection",
        CustomParser = ParsePaths,
        HelpName = "address:port",
    };

    public FabricsOptions(bool discovery = false)
    {
        Nqn = new Option<string>("--nqn", "-n")
        {
            Description = discovery ? "Subsystem NQN (default: the well-known discovery NQN)" : "Subsystem NQN (required)",
            Required = !discovery,
            HelpName = "nqn",
        };
        if (discovery)
        {
            Nqn.DefaultValueFactory = _ => NvmeDiscovery.DiscoveryNqn;
        }
    }

    public void AddTo(Command command, bool withQueues = true)
    {
        command.Add(Address);
        command.Add(ServiceId);
        command.Add(Nqn);
        command.Add(HostNqn);
        command.Add(HostId);
        command.Add(HeaderDigest);
        command.Add(DataDigest);
        command.Add(DhchapSecret);
        command.Add(DhchapControllerSecret);
        if (withQueues)
        {
            command.Add(IoQueues);
            command.Add(DisableSqFlow);
            command.Add(ControllerLossTimeout);
            command.Add(PollMicroseconds);
            command.Add(Paths);
        }
    }

    public string GetNqn(ParseResult result) => result.GetValue(Nqn) ?? NvmeDiscovery.DiscoveryNqn;

    public async Task<EndPoint> ResolveAsync(ParseResult result, CancellationToken cancellationToken)
    {
        string address = result.GetValue(Address) ?? DefaultAddress;
        int port = result.GetValue(ServiceId);
        if (IPAddress.TryParse(address, out var ip))
        {
            return new IPEndPoint(ip, port);
        }

        var addresses = await Dns.GetHostAddressesAsync(address, cancellationToken).ConfigureAwait(false);
        return addresses.Length > 0
            ? new IPEndPoint(addresses[0], port)
            : throw new CliUsageException($"--traddr {address} resolves to no address");
    }

    public HostIdentity Host(ParseResult result)
    {
        string? nqn = result.GetValue(HostNqn);
        Guid? id = result.GetValue(HostId);
        if (nqn is null)
        {
            var created = HostIdentity.Create();
            return id is { } given ? created with { HostId = given } : created;
        }

        // nvme-cli's convention: a uuid-form host NQN carries its host id.
        const string UuidPrefix = "nqn.2014-08.org.nvmexpress:uuid:";
        if (id is null && nqn.StartsWith(UuidPrefix, StringComparison.Ordinal) && Guid.TryParse(nqn[UuidPrefix.Length..], out var fromNqn))
        {
            id = fromNqn;
        }

        return new HostIdentity(nqn, id ?? Guid.NewGuid());
    }

    public NvmeConnectionOptions ConnectionOptions(ParseResult result) => new()
    {
        Host = Host(result),
        IoQueues = result.GetValue(IoQueues),
        HeaderDigest = result.GetValue(HeaderDigest),
        DataDigest = result.GetValue(DataDigest),
        DisableSqFlowControl = result.GetValue(DisableSqFlow),
        ControllerLossTimeout = TimeSpan.FromSeconds(result.GetValue(ControllerLossTimeout)),
        AdditionalPaths = result.GetValue(Paths) ?? [],
        PollMicroseconds = result.GetValue(PollMicroseconds),
        Authentication = Secrets(result),
    };

    /// <summary>The DH-HMAC-CHAP secrets given, or null; a malformed one is a usage error that never echoes the secret.</summary>
    public DhchapHostSecrets? Secrets(ParseResult result)
    {
        string? host = result.GetValue(DhchapSecret);
        string? controller = result.GetValue(DhchapControllerSecret);
        if (string.IsNullOrEmpty(host))
        {
            return string.IsNullOrEmpty(controller) ? null : throw new CliUsageException("--dhchap-ctrl-secret needs --dhchap-secret");
        }

        try
        {
            return DhchapHostSecrets.Parse(host, controller);
        }
        catch (FormatException ex)
        {
            throw new CliUsageException(ex.Message);
        }
    }

    /// <summary>IP literals only: a path names one port of the target, as a discovery log entry does.</summary>
    private static IPEndPoint[] ParsePaths(System.CommandLine.Parsing.ArgumentResult result)
    {
        var paths = new List<IPEndPoint>();
        foreach (var token in result.Tokens)
        {
            if (IPEndPoint.TryParse(token.Value, out var path) && path.Port != 0)
            {
                paths.Add(path);
            }
            else
            {
                result.AddError($"--path '{token.Value}' is not ADDRESS:PORT (an IP address and a TCP port)");
            }
        }

        return [.. paths];
    }
}
