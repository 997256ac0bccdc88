namespace NovaStor.Load;

/// <summary>What a run does, named as fio names it where fio has the same knob.</summary>
public enum LoadPattern
{
    /// <summary>Sequential reads (fio rw=read).</summary>
    Read,
    /// <summary>Sequential writes (fio rw=write).</summary>
    Write,
    /// <summary>Uniform random reads (fio rw=randread).</summary>
    RandRead,
    /// <summary>Uniform random writes (fio rw=randwrite).</summary>
    RandWrite,
    /// <summary>Random reads and writes mixed by <see cref="LoadJob.ReadPercent"/> (fio rw=randrw).</summary>
    RandRw,
}

/// <summary>One load-generator run against one namespace of a connected controller.</summary>
public sealed record LoadJob
{
    public LoadPattern Pattern { get; init; } = LoadPattern.RandRead;

    /// <summary>Bytes per I/O (fio bs); a multiple of the namespace's block size.</summary>
    public int BlockSize { get; init; } = 4096;

    /// <summary>I/Os in flight per I/O queue (fio iodepth).</summary>
    public int QueueDepth { get; init; } = 32;

    /// <summary>I/O queues the load spreads over (at most the controller's).</summary>
    public int Queues { get; init; } = 1;

    /// <summary>Measured time (fio runtime with time_based).</summary>
    public TimeSpan Runtime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Load before measuring starts (fio ramp_time).</summary>
    public TimeSpan RampTime { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Share of reads in <see cref="LoadPattern.RandRw"/> (fio rwmixread).</summary>
    public int ReadPercent { get; init; } = 70;

    /// <summary>
    /// Writes stamp every block with its number and a generation; reads of blocks written in this
    /// run check the stamp; after the run every written block is read back and checked once more.
    /// </summary>
    public bool Verify { get; init; }

    public uint NamespaceId { get; init; } = 1;

    /// <summary>Start of the range the I/O falls in.</summary>
    public long OffsetBytes { get; init; }

    /// <summary>Length of the range; 0 means to the end of the namespace.</summary>
    public long SizeBytes { get; init; }

    /// <summary>A process (the target) whose CPU time over the measured window is reported.</summary>
    public int? TargetPid { get; init; }

    /// <summary>Total I/Os in flight.</summary>
    public int Workers => QueueDepth * Queues;

    public bool IsRandom => Pattern is LoadPattern.RandRead or LoadPattern.RandWrite or LoadPattern.RandRw;

    /// <summary>fio's name for the pattern.</summary>
    public string FioName => Pattern switch
    {
        LoadPattern.Read => "read",
        LoadPattern.Write => "write",
        LoadPattern.RandRead => "randread",
        LoadPattern.RandWrite => "randwrite",
        _ => "randrw",
    };

    /// <exception cref="ArgumentException">A knob is out of range.</exception>
    public void Validate()
    {
        if (BlockSize <= 0 || QueueDepth is < 1 or > 1024 || Queues is < 1 or > 64)
        {
            throw new ArgumentException($"bs {BlockSize}, iodepth {QueueDepth}, queues {Queues}: bs must be positive, iodepth 1..1024, queues 1..64.");
        }

        if (Runtime <= TimeSpan.Zero || RampTime < TimeSpan.Zero || ReadPercent is < 0 or > 100 || OffsetBytes < 0 || SizeBytes < 0)
        {
            throw new ArgumentException("runtime must be positive; ramp, offset and size not negative; rwmixread 0..100.");
        }
    }
}

/// <summary>A snapshot of a run in progress, once a second.</summary>
public readonly record struct LoadProgress(TimeSpan Elapsed, bool Measuring, long Ios, double Iops, double MegabytesPerSecond);
