namespace NovaStor.Csi.Node;

/// <summary>
/// What a block device holds, as <c>blkid -p -o export</c> (a low-level probe of the device itself,
/// not blkid's cache) reports it: a filesystem (TYPE), a partition table (PTTYPE), or nothing. Only
/// a device with neither is ever formatted: a partition table or an unknown signature means data.
/// </summary>
internal sealed record DeviceContent(string? FileSystem, string? PartitionTable, IReadOnlyDictionary<string, string> Tags)
{
    /// <summary>blkid's exit code when it found nothing on the device.</summary>
    public const int NothingFound = 2;

    public static DeviceContent Empty { get; } = new(null, null, new Dictionary<string, string>());

    public bool IsBlank => FileSystem is null && PartitionTable is null && Tags.Count == 0;

    /// <summary>Reads blkid's export format (KEY=value lines).</summary>
    public static DeviceContent Parse(string export)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in export.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                tags[line[..equals]] = line[(equals + 1)..];
            }
        }

        // DEVNAME is the probed path itself, not content.
        tags.Remove("DEVNAME");
        return new DeviceContent(tags.GetValueOrDefault("TYPE"), tags.GetValueOrDefault("PTTYPE"), tags);
    }

    /// <summary>What is on <paramref name="device"/>; an error from blkid (other than "nothing found") is an IOException with its words.</summary>
    public static async Task<DeviceContent> ProbeAsync(ExternalCommands commands, string device, CancellationToken cancellationToken)
    {
        var result = await commands.RunAsync("blkid", ["-p", "-o", "export", device], cancellationToken).ConfigureAwait(false);
        return result.ExitCode switch
        {
            0 => Parse(result.Output),
            NothingFound => Empty,
            _ => throw new IOException($"blkid could not probe {device}: {result.Describe()}"),
        };
    }
}
