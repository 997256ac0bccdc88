namespace NovaStor.EngineVsFio;

/// <summary>The access pattern of one row; the names are fio's <c>--rw</c> values.</summary>
public enum AccessPattern
{
    RandWrite,
    RandRead,
    Write,
    Read,
}

/// <summary>One row of the comparison: the same pattern, block size and queue depth on both sides.</summary>
public sealed record Workload(string Name, AccessPattern Pattern, int BlockSize, int QueueDepth)
{
    /// <summary>
    /// The rows of the rung. Sequential rows run at QD 8 on both sides: 8 x 128 KiB already keeps a
    /// virtio disk busy, and deeper sequential queues mostly measure the device's merging.
    /// </summary>
    public static IReadOnlyList<Workload> Standard { get; } =
    [
        new("4K randwrite QD32", AccessPattern.RandWrite, 4096, 32),
        new("4K randread QD32", AccessPattern.RandRead, 4096, 32),
        new("4K randwrite QD1", AccessPattern.RandWrite, 4096, 1),
        new("4K randread QD1", AccessPattern.RandRead, 4096, 1),
        new("128K write QD8", AccessPattern.Write, 128 * 1024, 8),
        new("128K read QD8", AccessPattern.Read, 128 * 1024, 8),
    ];

    public bool IsWrite => Pattern is AccessPattern.RandWrite or AccessPattern.Write;

    public bool IsRandom => Pattern is AccessPattern.RandWrite or AccessPattern.RandRead;

    /// <summary>fio's <c>--rw</c> value.</summary>
    public string FioRw => Pattern switch
    {
        AccessPattern.RandWrite => "randwrite",
        AccessPattern.RandRead => "randread",
        AccessPattern.Write => "write",
        _ => "read",
    };
}
