namespace NovaStor.BlockEngine.Volumes;

/// <summary>Which drives a new volume is striped over: straw2's choice on the volume id, by capacity.</summary>
public static class StripePlacement
{
    /// <summary>
    /// The <paramref name="width"/> drives with the longest straws for the volume's key, longest
    /// first: the first pick is the drive an unstriped volume would get (so width 1 places exactly as
    /// before striping existed), each further pick is straw2 again among the drives not yet chosen.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">width is not between 1 and the number of drives.</exception>
    public static IReadOnlyList<StripeMember> Choose(Guid volumeId, IReadOnlyList<DriveRecord> drives, int width)
    {
        if (drives.Count == 0)
        {
            throw new InvalidOperationException("No data directory is configured.");
        }

        if (width < 1 || width > drives.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, $"The stripe width must be between 1 and the number of drives ({drives.Count}).");
        }

        var ids = new ulong[drives.Count];
        var weights = new double[drives.Count];
        for (int i = 0; i < drives.Count; i++)
        {
            ids[i] = Straw2.StableId(drives[i].Id);
            weights[i] = drives[i].Weight;
        }

        ulong key = Straw2.ChunkKey(volumeId, 0);
        var chosen = new List<StripeMember>(width);
        for (int pick = 0; pick < width; pick++)
        {
            int winner = Straw2.Select(key, ids, weights);
            chosen.Add(new StripeMember(drives[winner].Id, drives[winner].Weight));
            weights[winner] = 0; // a zero weight never wins: the next pick is among the others
        }

        return chosen;
    }
}
