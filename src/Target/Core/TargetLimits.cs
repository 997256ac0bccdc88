namespace NovaStor.Target.Core;

/// <summary>The transfer limits a target advertises, shared by the transport and the controller.</summary>
internal sealed record TargetLimits
{
    /// <summary>MDTS as a power of two of the 4 KiB minimum page: 5 = 128 KiB per command.</summary>
    public byte MaxDataTransferShift { get; init; } = 5;

    /// <summary>In-capsule data accepted on I/O queues (IOCCSZ = (64 + this) / 16).</summary>
    public int InCapsuleDataSize { get; init; } = 8192;

    /// <summary>In-capsule data accepted on the admin queue and for Fabrics commands: 8 KiB whatever IOCCSZ says.</summary>
    public int AdminInCapsuleDataSize { get; init; } = 8192;

    /// <summary>MQES + 1: the deepest I/O queue a host may create.</summary>
    public int MaxQueueEntries { get; init; } = 128;

    /// <summary>Entries of the admin queue (the Linux host uses 32).</summary>
    public int MaxAdminQueueEntries { get; init; } = 32;

    public int MaxTransferBytes => 4096 << MaxDataTransferShift;

    /// <summary>
    /// How long a new connection may take to send its ICReq, and then its Connect: a connection that
    /// says nothing holds a socket and a queue's buffers, so it is closed after this.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>NVMe/TCP connections (queues) open at once, target-wide; more are closed at accept.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>Connections open at once from one IP address; more from it are closed at accept.</summary>
    public int MaxConnectionsPerAddress { get; init; } = 1024;

    /// <summary>Controllers (associations) at once, target-wide; a Connect beyond gets Controller Busy.</summary>
    public int MaxControllers { get; init; } = 1024;

    /// <summary>Controllers at once of one host NQN, over all subsystems; a Connect beyond gets Controller Busy.</summary>
    public int MaxControllersPerHost { get; init; } = 64;

    /// <summary>I/O queues a controller grants (Set Features Number of Queues), 1..64.</summary>
    public int MaxIoQueuesPerController { get; init; } = Controller.MaxIoQueues;

    /// <summary>
    /// Data buffers one queue may hold at once from its reactor's bounded pool (8 MiB at 128 KiB):
    /// a host that never reads its socket holds at most this many until <see cref="SendStallTimeout"/>.
    /// </summary>
    public int MaxBuffersPerQueue { get; init; } = 64;

    /// <summary>A queue whose socket takes no byte of a pending send for this long is closed (its host stopped reading).</summary>
    public TimeSpan SendStallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>MAXH2CDATA: the largest H2CData payload accepted; one R2T then needs one H2CData.</summary>
    public int MaxH2CData => MaxTransferBytes;
}
