namespace NovaStor.Target.Hosting;

/// <summary>
/// The target's configuration, bound from the "NovaStor" section of the standard .NET
/// configuration: appsettings.json, environment (NovaStor__Port=4421) or command line
/// (--NovaStor:Port=4421, or the short forms --port, --address, --data).
/// </summary>
public sealed class TargetOptions
{
    public const string Section = "NovaStor";

    /// <summary>Address of the NVMe/TCP listener. Loopback unless told otherwise.</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 4420;

    /// <summary>
    /// The ports (listeners) every subsystem is served on, each with its ANA states: several make
    /// multipath. None configured: one at <see cref="ListenAddress"/>:<see cref="Port"/>.
    /// </summary>
    public List<ListenerOptions> Listeners { get; set; } = [];

    /// <summary>
    /// The address discovery log entries tell hosts to connect to (TRADDR, and ADRFAM from its
    /// family), as nvmet reports its configured port address rather than the socket's. For hosts that
    /// reach the target through NAT or a forward (a QEMU guest sees host loopback as 10.0.2.2).
    /// Unset: the listener's address, or the connection's local address for a wildcard listener.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>
    /// The first drive's data folder: it holds the volume catalog and volume files (and the files
    /// of namespaces given by a relative Path).
    /// </summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>More drives (one data folder per drive) that volumes are placed or striped on.</summary>
    public List<DriveOptions> Drives { get; set; } = [];

    /// <summary>Block engine: Auto (io_uring reactors where allowed, else Linux native AIO, else positional I/O), IoUring, Aio or Fallback.</summary>
    public NovaStor.BlockEngine.EngineKind Engine { get; set; } = NovaStor.BlockEngine.EngineKind.Auto;

    /// <summary>Seconds a new connection may take to send ICReq, and then again to send its Connect, before it is closed.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 10;

    /// <summary>What hosts may hold at once: connections, controllers, I/O queues (see <see cref="LimitsOptions"/>).</summary>
    public LimitsOptions Limits { get; set; } = new();

    /// <summary>Engine reactors (threads, one io_uring ring or AIO context each); one per CPU the process may use by default.</summary>
    public int Reactors { get; set; } = Environment.ProcessorCount;

    /// <summary>How queues move their bytes: Auto (on the engine's reactors when there are some), IoUring, Epoll, or Sockets (Kestrel's socket transport).</summary>
    public TransportKind Transport { get; set; } = TransportKind.Auto;

    /// <summary>Run socket continuations inline on the socket threads (Kestrel's UnsafePreferInlineScheduling).</summary>
    public bool InlineSocketScheduling { get; set; } = true;

    /// <summary>Pin reactor N to the N-th CPU the process may use.</summary>
    public bool PinReactors { get; set; }

    /// <summary>The longest a reactor polls its ring before sleeping, learnt from the waits it catches, in microseconds; 0 never polls.</summary>
    public int ReactorPollMicroseconds { get; set; } = NovaStor.BlockEngine.Reactors.ReactorPoolOptions.DefaultPollMicroseconds;

    /// <summary>The most disk requests a reactor prepares before submitting them: 1 submits each at once (lowest latency), 0 once per loop pass.</summary>
    public int ReactorDiskSubmitBatch { get; set; } = NovaStor.BlockEngine.Reactors.ReactorPoolOptions.DefaultDiskSubmitBatch;

    /// <summary>IORING_SETUP_SQPOLL: a kernel thread per ring polls submissions (costs a CPU; for machines with cores to spare).</summary>
    public bool SubmissionPolling { get; set; }

    /// <summary>Buffer memory each reactor registers with its ring, in MiB (0: none; plain reads and writes).</summary>
    public int RegisteredBufferMegabytes { get; set; } = 32;

    /// <summary>
    /// MiB of command data buffers the queues on one reactor may hold at once (the registered ones
    /// count in it): the bound on what hosts can make the target hold for their data. A command that
    /// finds none free waits for one. Default 128 (1024 buffers of 128 KiB per reactor).
    /// </summary>
    public int CommandBufferMegabytes { get; set; } = 128;

    /// <summary>Subsystems to serve. None configured: the embedded default (see <see cref="EmbeddedDefault"/>).</summary>
    public List<SubsystemOptions> Subsystems { get; set; } = [];
}

/// <summary>Which transport carries the NVMe/TCP queues.</summary>
public enum TransportKind
{
    /// <summary>The engine's reactors (io_uring rings, or AIO reactors with epoll), Kestrel's sockets on the positional engine.</summary>
    Auto,
    /// <summary>The io_uring reactors: each queue's socket, disk I/O and responses on one thread; refuse to start without them.</summary>
    IoUring,
    /// <summary>Kestrel's socket transport and pipes; responses are written by the thread that completes the command.</summary>
    Sockets,
    /// <summary>The native AIO reactors, sockets driven by epoll: each queue on one thread, as with IoUring; needs the Aio engine.</summary>
    Epoll,
}

/// <summary>
/// Admission limits (NovaStor:Limits). Over a connection limit the connection is closed at accept;
/// over a controller limit the Connect fails with Controller Busy. Each refusal is logged once per
/// address or host per minute.
/// </summary>
public sealed class LimitsOptions
{
    /// <summary>Connections (queues) open at once, target-wide.</summary>
    public int MaxConnections { get; set; } = 4096;

    /// <summary>Connections open at once from one IP address.</summary>
    public int MaxConnectionsPerAddress { get; set; } = 1024;

    /// <summary>Controllers at once, target-wide.</summary>
    public int MaxControllers { get; set; } = 1024;

    /// <summary>Controllers at once of one host NQN (all subsystems together).</summary>
    public int MaxControllersPerHost { get; set; } = 64;

    /// <summary>I/O queues granted to one controller, 1..64.</summary>
    public int MaxIoQueuesPerController { get; set; } = 64;

    /// <summary>Data buffers (128 KiB) one queue may hold at once from its reactor's pool.</summary>
    public int MaxBuffersPerQueue { get; set; } = 64;

    /// <summary>Seconds a queue's pending send may make no progress (its host reads nothing) before the queue is closed.</summary>
    public int SendStallSeconds { get; set; } = 30;
}

/// <summary>One listener (an NVMe port, PORTID = its 1-based position in the list).</summary>
public sealed class ListenerOptions
{
    public string Address { get; set; } = "127.0.0.1";

    public int Port { get; set; }

    /// <summary>
    /// The ANA state of groups on this port, by group id ("2": "NonOptimized"): Optimized,
    /// NonOptimized, Inaccessible or PersistentLoss. Groups not listed are Optimized.
    /// </summary>
    public Dictionary<string, string> AnaStates { get; set; } = [];
}

public sealed class SubsystemOptions
{
    public string Nqn { get; set; } = "";

    /// <summary>Admit every host. Otherwise only the NQNs in <see cref="AllowedHosts"/>.</summary>
    public bool AllowAnyHost { get; set; }

    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>Hosts that must authenticate with DH-HMAC-CHAP (each is admitted; see <see cref="SubsystemHostOptions"/>).</summary>
    public List<SubsystemHostOptions> Hosts { get; set; } = [];

    public List<NamespaceOptions> Namespaces { get; set; } = [];
}

/// <summary>
/// A host that must prove who it is with DH-HMAC-CHAP (in-band authentication) before it may use
/// the subsystem. Secrets are in the DHHC-1 form <c>nvme gen-dhchap-key</c> (or <c>novastor
/// gen-dhchap-key</c>) prints, given inline or as a file holding that text (a mounted secret).
/// </summary>
public sealed class SubsystemHostOptions
{
    public string Nqn { get; set; } = "";

    /// <summary>The host's secret (nvme connect's --dhchap-secret).</summary>
    public string? DhchapSecret { get; set; }

    /// <summary>A file holding the host's secret, instead of <see cref="DhchapSecret"/>.</summary>
    public string? DhchapSecretFile { get; set; }

    /// <summary>The controller's secret, for hosts that authenticate the controller too (nvme connect's --dhchap-ctrl-secret).</summary>
    public string? DhchapControllerSecret { get; set; }

    /// <summary>A file holding the controller's secret, instead of <see cref="DhchapControllerSecret"/>.</summary>
    public string? DhchapControllerSecretFile { get; set; }

    /// <summary>sha256, sha384 or sha512; unset: the first the host offers (SHA-256 for Linux).</summary>
    public string? DhchapHash { get; set; }

    /// <summary>null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144 or ffdhe8192; unset: ffdhe2048 when the host offers it.</summary>
    public string? DhchapGroup { get; set; }
}

/// <summary>A data folder on one drive, with an id that stays the same when the path does not.</summary>
public sealed class DriveOptions
{
    /// <summary>Stable id, recorded in the catalog for the volumes on this drive; never reuse one for another drive.</summary>
    public string Id { get; set; } = "";

    public string Path { get; set; } = "";
}

public sealed class NamespaceOptions
{
    /// <summary>NSID, 1-based; 0 means "the next free one".</summary>
    public uint Id { get; set; }

    /// <summary>Volume name: part of the namespace identity (NGUID/UUID), so keep it stable.</summary>
    public string Volume { get; set; } = "";

    /// <summary>
    /// Where the blocks live: "File" (the default: the catalog volume, or <see cref="Path"/>),
    /// "Memory" (RAM of <see cref="SizeBytes"/>, lost when the target stops) or "Null" (writes
    /// discarded, reads return zeroes; for transport benchmarks). A string, not
    /// <see cref="NamespaceBackend"/>, so that a wrong value gets a message naming the right ones.
    /// </summary>
    public string Backend { get; set; } = nameof(NamespaceBackend.File);

    /// <summary>
    /// A file or block device to serve directly, outside the volume catalog (relative paths are
    /// under the data directory). Unset (the default): the catalog volume named <see cref="Volume"/>,
    /// created on first start. File backend only.
    /// </summary>
    public string? Path { get; set; }

    /// <summary>Size of a new (thin) volume, or of a Memory or Null namespace; an existing volume keeps its size.</summary>
    public long SizeBytes { get; set; } = 1L << 30;

    /// <summary>LBA size of a new volume (or of a Memory or Null namespace): 512 or 4096; an existing volume keeps its own.</summary>
    public int BlockSize { get; set; } = 512;

    /// <summary>The ANA group (1..32) the namespace belongs to: its paths' states are the group's on each listener.</summary>
    public uint AnaGroup { get; set; } = 1;

    /// <summary>Drives a new catalog volume is striped over, in 4 MiB chunks (1: one drive, not striped). File backend only.</summary>
    public int StripeWidth { get; set; } = 1;
}

/// <summary>What the target serves when nothing is configured.</summary>
public static class EmbeddedDefault
{
    public const string SubsystemNqn = "nqn.2026-11.io.novastor:default";

    public static SubsystemOptions Subsystem() => new()
    {
        Nqn = SubsystemNqn,
        AllowAnyHost = true,
        Namespaces = [new NamespaceOptions { Id = 1, Volume = "default", SizeBytes = 1L << 30, BlockSize = 512 }],
    };
}
