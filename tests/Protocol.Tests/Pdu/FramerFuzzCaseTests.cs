using NovaStor.Fuzz;
using Xunit;

namespace NovaStor.Protocol.Tests.Pdu;

/// <summary>
/// The <c>framer</c> fuzz target's committed cases, replayed without AFL: the seed corpus
/// (tests/Fuzz/corpus/framer) and every crash or hang the fuzzer ever found
/// (tests/Fuzz/regressions/framer, where scripts/fuzz.sh puts them). Each must run through the same
/// harness logic (<see cref="FramerCase"/>) without an exception and within a bound.
/// </summary>
public sealed class FramerFuzzCaseTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    public static TheoryData<string> Cases() => [.. FuzzCases.Of("framer")];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Fuzz_case_runs_clean(string path)
    {
        var input = FuzzCases.Read(path);
        await Task.Run(() => FramerCase.Run(input)).WaitAsync(Bound);
    }

    [Fact]
    public void The_seed_corpus_frames_whole_pdus()
    {
        var seeds = FuzzCases.Of("framer").Where(path => path.StartsWith("corpus", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(seeds);
        // Seeds are valid streams: every one frames at least one whole PDU before anything else happens.
        Assert.All(seeds, path => Assert.True(FramerCase.Run(FuzzCases.Read(path)) > 0, $"{path} frames no PDU"));
    }
}
