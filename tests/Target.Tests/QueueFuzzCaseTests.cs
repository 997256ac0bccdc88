using NovaStor.Fuzz;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>One harness for the class: its memory volumes are reused by every case, as under AFL.</summary>
public sealed class QueueHarness : IDisposable
{
    internal QueueCase Queue { get; } = new();

    public void Dispose() => Queue.Dispose();
}

/// <summary>
/// The <c>queue</c> fuzz target's committed cases, replayed without AFL: the seed corpus
/// (tests/Fuzz/corpus/queue) and every crash or hang the fuzzer ever found
/// (tests/Fuzz/regressions/queue, where scripts/fuzz.sh puts them). Each runs through the same
/// harness logic (<see cref="QueueCase"/>: whole target queues over in-memory pipes) and must end
/// within its bound with no finding, and a fresh healthy host must then connect, write and read
/// back its data (the probe).
/// </summary>
public sealed class QueueFuzzCaseTests(QueueHarness harness) : IClassFixture<QueueHarness>
{
    public static TheoryData<string> Cases() => [.. FuzzCases.Of("queue")];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fuzz_case_runs_clean(string path) => harness.Queue.Run(FuzzCases.Read(path), probe: true);

    /// <summary>
    /// The seed generator's streams still do what they say against today's target (every command
    /// answered as expected, no termination): a seed that stopped being valid would fuzz less
    /// without anyone noticing. Regenerate the corpus with <c>NovaStor.Fuzz seed tests/Fuzz</c>.
    /// </summary>
    [Fact]
    public void Seed_streams_are_valid()
    {
        var seeds = SeedStreams.Queue(QueueCase.SubsystemNqn).ToList();
        Assert.NotEmpty(seeds);
        Assert.All(seeds, seed => Assert.Null(seed.Check(harness.Queue.Run(seed.ToInput(), probe: true))));
    }

    /// <summary>The committed corpus has a file for each seed the generator makes.</summary>
    [Fact]
    public void Corpus_has_every_seed()
    {
        var committed = FuzzCases.Of("queue").Where(p => p.StartsWith("corpus", StringComparison.Ordinal)).Select(Path.GetFileName).ToHashSet();
        Assert.All(SeedStreams.Queue(QueueCase.SubsystemNqn), seed => Assert.Contains(seed.Name, committed));
    }
}
