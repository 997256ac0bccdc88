using NovaStor.EngineVsFio;
using NovaStor.Load;

namespace NovaStor.EndToEnd;

/// <summary>Which namespace of the target a row runs on.</summary>
public enum RowBackend
{
    /// <summary>Namespace 1: the test file on disk (O_DIRECT), with fio on the same file beside it.</summary>
    File,

    /// <summary>Namespace 2: a Memory namespace, the target and the transport without a disk.</summary>
    Memory,

    /// <summary>
    /// Namespace 3: a Null namespace (writes dropped, reads zero-filled), the transport without even
    /// the memory namespace's copy, as SPDK's null bdev measures it. Runs with the memory rows.
    /// </summary>
    Null,
}

/// <summary>One row of the rung: a workload (pattern, block size, QD) on one of the target's namespaces.</summary>
public sealed record RungRow(RowBackend Backend, Workload Workload)
{
    public const uint FileNamespaceId = 1;
    public const uint MemoryNamespaceId = 2;
    public const uint NullNamespaceId = 3;

    /// <summary>
    /// The memory rows: the transport's small-I/O costs at depth and alone (reads at QD1; a write
    /// at QD1 costs the transport what a read does) and its bulk path both ways.
    /// </summary>
    private static readonly string[] MemoryWorkloads = ["4K randwrite QD32", "4K randread QD32", "4K randread QD1", "128K write QD8", "128K read QD8"];

    /// <summary>
    /// The null row: the bulk write with nothing behind the transport, what the kernel's TCP and
    /// NVMe/TCP's exchanges (capsule, R2T, H2CData, response) alone cost per 128 KiB write.
    /// </summary>
    private static readonly string[] NullWorkloads = ["128K write QD8"];

    /// <summary>Every row, file rows first (the engine rung's six), then the memory rows, then the null row.</summary>
    public static IReadOnlyList<RungRow> All { get; } =
    [
        .. Workload.Standard.Select(w => new RungRow(RowBackend.File, w)),
        .. Workload.Standard.Where(w => MemoryWorkloads.Contains(w.Name)).Select(w => new RungRow(RowBackend.Memory, w)),
        .. Workload.Standard.Where(w => NullWorkloads.Contains(w.Name)).Select(w => new RungRow(RowBackend.Null, w)),
    ];

    /// <summary>"file", "memory" or "null": the first word of <see cref="Name"/>, and the JSON's backend.</summary>
    public string BackendName => Backend switch
    {
        RowBackend.File => "file",
        RowBackend.Memory => "memory",
        _ => "null",
    };

    /// <summary>"file 4K randwrite QD32", "memory 128K read QD8": what --only matches.</summary>
    public string Name => $"{BackendName} {Workload.Name}";

    public uint NamespaceId => Backend switch
    {
        RowBackend.File => FileNamespaceId,
        RowBackend.Memory => MemoryNamespaceId,
        _ => NullNamespaceId,
    };

    /// <summary>
    /// What NovaStor v0.5.0 (Rust + SPDK) claimed for the same workload. Its claims do not say on
    /// what storage, so they stand beside every row of the workload, file and memory alike.
    /// </summary>
    public string Seed => Workload.Name switch
    {
        "4K randwrite QD32" => "60,652 IOPS",
        "4K randread QD32" => "66,338 IOPS",
        "4K randwrite QD1" => "10,743 IOPS, 91 us",
        "128K write QD8" => "740 MB/s",
        "128K read QD8" => "846 MB/s",
        _ => "-",
    };

    /// <summary>The load generator's job for this row; the row's QD is spread over <paramref name="queues"/> I/O queues.</summary>
    public LoadJob ToJob(int queues, TimeSpan ramp, TimeSpan runtime, int targetPid) => new()
    {
        Pattern = Workload.Pattern switch
        {
            AccessPattern.RandWrite => LoadPattern.RandWrite,
            AccessPattern.RandRead => LoadPattern.RandRead,
            AccessPattern.Write => LoadPattern.Write,
            _ => LoadPattern.Read,
        },
        BlockSize = Workload.BlockSize,
        QueueDepth = Math.Max(1, Workload.QueueDepth / queues),
        Queues = Workload.QueueDepth >= queues ? queues : 1,
        Runtime = runtime,
        RampTime = ramp,
        NamespaceId = NamespaceId,
        TargetPid = targetPid,
    };
}
