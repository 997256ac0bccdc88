using NovaStor.Initiator.Authentication;

namespace NovaStor.Initiator;

/// <summary>How <see cref="NvmeController"/> connects, keeps alive and reconnects.</summary>
public sealed record NvmeConnectionOptions
{
    /// <summary>Who the host is; a fresh identity when not set (then stable for this controller's life).</summary>
    public HostIdentity? Host { get; init; }

    /// <summary>
    /// More paths to the same subsystem (other ports of the target, typically from discovery),
    /// connected after the end point given to <see cref="NvmeController.ConnectAsync"/> with the
    /// same host identity and options. Each path is a controller of its own; a namespace's I/O goes
    /// to a path where its ANA group is optimized, else non-optimized, and moves to another path on
    /// a path status or a lost connection. Empty (the default): one path, as before.
    /// </summary>
    public IReadOnlyList<System.Net.EndPoint> AdditionalPaths { get; init; } = [];

    /// <summary>I/O queues (TCP connections) to ask for; the controller may grant fewer.</summary>
    public int IoQueues { get; init; } = 1;

    /// <summary>Entries per I/O queue (SQSIZE + 1), capped by CAP.MQES + 1.</summary>
    public int QueueDepth { get; init; } = 128;

    /// <summary>
    /// DH-HMAC-CHAP secrets for subsystems that require in-band authentication: the host's, and
    /// optionally the controller's (then the controller must prove itself too). Every queue
    /// authenticates when its Connect response asks; without secrets such a Connect fails.
    /// </summary>
    public DhchapHostSecrets? Authentication { get; init; }

    public bool HeaderDigest { get; init; }
    public bool DataDigest { get; init; }

    /// <summary>
    /// Disable SQ flow control on every queue (Connect CATTR bit 2, nvme-cli's <c>--disable-sqflow</c>):
    /// a controller may then complete a successful read with its C2HData alone, one PDU less per
    /// read. Off by default; NovaStor and nvmet targets support it (their discovery entries say so
    /// in TREQ bit 2).
    /// </summary>
    public bool DisableSqFlowControl { get; init; }

    /// <summary>Largest write sent in-capsule; the controller's IOCCSZ caps it. 0: every write by R2T.</summary>
    public int InCapsuleDataLimit { get; init; } = int.MaxValue;

    /// <summary>KATO sent in Connect; Keep Alive goes out every half of it. Zero: no keep-alive.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to keep trying to reconnect before failing every waiting command for good.</summary>
    public TimeSpan ControllerLossTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>First delay between reconnect attempts; doubles up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// An I/O command unanswered this long breaks the association (error recovery, as the Linux
    /// host's io_timeout): the host reconnects and resends. Zero: no limit.
    /// </summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Admin commands (Identify, log pages, properties) that get no answer in this time break the association.</summary>
    public TimeSpan AdminTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Run the continuation of an I/O command (<see cref="NvmeNamespace"/>'s methods) inline on
    /// the I/O queue's thread, where the response was received, instead of on the thread pool.
    /// That saves a thread hop (and the pool's spinning) per I/O, and a continuation that issues
    /// the next I/O has it sent with the queue's next batch. The continuation must then never
    /// block: no <c>.Result</c>, <c>Wait()</c>, <c>Thread.Sleep</c> or blocking I/O (they would stop
    /// the queue, and waiting on another I/O of the same queue would never end). Off by default
    /// because a library cannot know its callers do not; the admin queue always completes on
    /// the thread pool.
    /// </summary>
    public bool InlineCompletions { get; init; }

    /// <summary>
    /// The longest an I/O queue's thread polls its socket for an answer before it sleeps (the Linux
    /// socket path). The queue learns how long answers take and polls only while that pays: about
    /// four times the waits it caught, never longer than this, not at all once answers keep coming
    /// later (it tries again now and then). Polling saves the wake-up of a sleeping thread, which
    /// on a virtual machine costs tens of microseconds per answer, and costs at most the wait it
    /// replaces in CPU: a queue at depth 1 against a disk-backed target uses about a core. The
    /// default, 200 us, covers a round trip to a target on a local disk (measured against this
    /// project's target on a file: 4 KiB QD1 p50 50-62 us against 72-86 us with 50 us); 0 never
    /// polls (the least CPU; every answer wakes the thread); at most 10,000.
    /// </summary>
    public int PollMicroseconds { get; init; } = DefaultPollMicroseconds;

    /// <summary>The default of <see cref="PollMicroseconds"/>: the kernel's haltpoll governor's default (guest_halt_poll_ns) too.</summary>
    public const int DefaultPollMicroseconds = 200;

    /// <summary>The largest <see cref="PollMicroseconds"/> taken; more is taken as this.</summary>
    public const int MaxPollMicroseconds = 10_000;

    /// <summary>SO_SNDBUF of every queue's socket; 0 leaves the kernel's autotuning (tests set it tiny).</summary>
    internal int SocketSendBufferBytes { get; init; }

    /// <summary>Socket path of every queue: the Linux one where it can run (default), or the portable one.</summary>
    public HostQueueTransport Transport { get; init; }
}
