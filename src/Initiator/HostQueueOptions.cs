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

    /// <summary>Command table entries (the most commands outstanding at once): SQSIZE + 1 of the queue.</summary>
    public int QueueDepth { get; init; } = 128;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
