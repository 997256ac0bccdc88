using System.CommandLine;

namespace NovaStor.Cli;

/// <summary>
/// nvme-cli's range lists for dsm and copy: --slbs 0,100 --blocks 8,16 pairs the i-th start
/// block with the i-th length. Lengths are 1-based here (nvme-cli passes them 0-based).
/// </summary>
internal sealed class RangeOptions
{
    public Option<List<ulong>> StartBlocks { get; } = new("--slbs")
    {
        Description = "Comma-separated first blocks of the ranges (nvme-cli's -s/--slbs; -s is the port here)",
        CustomParser = Sizes.ParseList,
        Required = true,
        HelpName = "lba,lba,...",
    };

    public Option<List<ulong>> Lengths { get; } = new("--blocks", "-b")
    {
        Description = "Comma-separated block counts of the ranges, 1-based",
        CustomParser = Sizes.ParseList,
        Required = true,
        HelpName = "n,n,...",
    };

    public void AddTo(Command command)
    {
        command.Add(StartBlocks);
        command.Add(Lengths);
    }

    public IReadOnlyList<(ulong Start, long Blocks)> Ranges(ParseResult result)
    {
        var starts = result.GetValue(StartBlocks) ?? [];
        var lengths = result.GetValue(Lengths) ?? [];
        if (starts.Count == 0 || starts.Count != lengths.Count)
        {
            throw new CliUsageException($"--slbs has {starts.Count} entries and --blocks {lengths.Count}: give one length per start block");
        }

        var ranges = new List<(ulong, long)>(starts.Count);
        for (int i = 0; i < starts.Count; i++)
        {
            if (lengths[i] is 0 or > long.MaxValue)
            {
                throw new CliUsageException($"--blocks entry {i} is {lengths[i]}: a range has at least one block");
            }

            ranges.Add((starts[i], (long)lengths[i]));
        }

        return ranges;
    }
}
