using System.CommandLine;

namespace NovaStor.Cli;

/// <summary>
/// The namespace and block range of an I/O command. nvme-cli spells them -n (namespace) and -s
/// (start block), but on fabrics commands -n is the NQN and -s the port; here they are
/// -N/--namespace-id and -S/--start-block. Block counts are 1-based (nvme-cli's -c is 0-based).
/// </summary>
internal sealed class NamespaceOptions
{
    public Option<uint> NamespaceId { get; } = new("--namespace-id", "-N")
    {
        Description = "Namespace ID (nvme-cli's -n; here -n is the subsystem NQN)",
        DefaultValueFactory = _ => 1u,
        HelpName = "nsid",
    };

    public Option<ulong> StartBlock { get; } = new("--start-block", "-S", "--slba")
    {
        Description = "First logical block (nvme-cli's -s; here -s is the port)",
        HelpName = "lba",
    };

    public Option<long?> BlockCount { get; } = new("--block-count", "-c")
    {
        Description = "Number of logical blocks, 1-based (nvme-cli's -c counts from 0)",
        CustomParser = r => Numbers.Parser(1L, long.MaxValue, "--block-count")(r),
        HelpName = "blocks",
    };

    public Option<long?> DataSize { get; } = new("--data-size", "-z")
    {
        Description = "Bytes to transfer (a whole number of blocks; 4k, 1m... accepted)",
        CustomParser = r => Sizes.Parser(1)(r),
        HelpName = "bytes",
    };

    public void AddNamespace(Command command) => command.Add(NamespaceId);

    public void AddRange(Command command)
    {
        command.Add(NamespaceId);
        command.Add(StartBlock);
        command.Add(BlockCount);
        command.Add(DataSize);
    }

    /// <summary>
    /// Blocks the command covers: --block-count, else --data-size, else <paramref name="fallbackBytes"/>
    /// (the data file's length) rounded up to whole blocks.
    /// </summary>
    public long Blocks(ParseResult result, int blockSize, long? fallbackBytes)
    {
        if (result.GetValue(BlockCount) is { } count)
        {
            if (result.GetValue(DataSize) is { } size && size != count * blockSize)
            {
                throw new CliUsageException($"--data-size {size} and --block-count {count} disagree ({count} blocks of {blockSize} bytes are {count * blockSize} bytes)");
            }

            return count;
        }

        if (result.GetValue(DataSize) is { } bytes)
        {
            return bytes % blockSize == 0
                ? bytes / blockSize
                : throw new CliUsageException($"--data-size {bytes} is not a whole number of {blockSize}-byte blocks");
        }

        if (fallbackBytes is { } length and > 0)
        {
            return (length + blockSize - 1) / blockSize;
        }

        throw new CliUsageException(fallbackBytes is null
            ? "give the range's length with --block-count/-c or --data-size/-z"
            : "the data file is empty: nothing to transfer");
    }
}
