using NovaStor.Initiator.Authentication;

namespace NovaStor.Initiator;

/// <summary>Options of one queue's connection.</summary>
public sealed record HostQueueOptions
{
    public bool HeaderDigest { get; init; }
    public bool DataDigest { get; init; }

    /// <summary>
    /// Largest write carried in the capsule; larger writes wait for R2T. Fabrics commands
    /// (Connect) always travel in-capsule: every controller accepts 8 KiB for them.
    /// </summary>
    public int InCapsuleDataLimit { get; init; } = 8192;

    /// <summary>
    /// Asks the controller in Connect (CATTR bit 2) to disable SQ flow control on the queue: the
    /// host then needs no SQHD, and a controller may complete a successful read with its last
    /// C2HData (SUCCESS flag) instead of a CapsuleResp, one PDU less per read. As nvme-cli's
    /// <c>--disable-sqflow</c>; off by default, as there.
    /// </summary>
    public bool DisableSqFlowControl { get; init; }

    /// <summary>Command table entries (the most commands outstanding at once): SQSIZE + 1 of the queue.</summary>
    public int QueueDepth { get; init; } = 128;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Whether an awaiter's continuation runs inline on the thread that handled the response (the
    /// queue's own thread on Linux) instead of on the thread pool. Inline saves a thread hop per
    /// command; a continuation must then never block (no <c>.Result</c>, no <c>Wait()</c>, no
    /// blocking I/O), or the queue stops receiving. Off by default.
    /// </summary>
    public bool InlineCompletions { get; init; }

    /// <summary>
    /// The longest the queue's thread polls its socket for an answer before it sleeps (Linux
    /// path); see <see cref="NvmeConnectionOptions.PollMicroseconds"/>. 0: never polls.
    /// </summary>
    public int PollMicroseconds { get; init; } = NvmeConnectionOptions.DefaultPollMicroseconds;

    /// <summary>SO_SNDBUF for the queue's socket; 0 leaves the kernel's autotuning. Tests set it tiny to force short sends.</summary>
    internal int SocketSendBufferBytes { get; init; }

    /// <summary>The DH-HMAC-CHAP secrets used when a Connect response asks the queue to authenticate; null: none (such a Connect fails).</summary>
    public DhchapHostSecrets? Authentication { get; init; }

    /// <summary>Which socket path: the Linux one where it can run (default), or the portable one.</summary>
    public HostQueueTransport Transport { get; init; }
}
