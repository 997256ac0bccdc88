namespace NovaStor.BlockEngine.Volumes;

/// <summary>
/// Straw2 selection (as Ceph's CRUSH uses it): every candidate draws a straw of length
/// ln(u) / weight from a hash of (key, candidate); the longest straw wins. Deterministic for the
/// same key and candidates; the share of keys a candidate wins is proportional to its weight; and
/// adding or reweighting one candidate moves only keys to or from that candidate.
/// </summary>
public static class Straw2
{
    /// <summary>Picks the index of the winning candidate for <paramref name="key"/>.</summary>
    /// <param name="key">What is placed (a volume id mixed with a chunk index).</param>
    /// <param name="candidateIds">Stable identifiers of the candidates (not their positions).</param>
    /// <param name="weights">Positive weights (capacities); a zero weight never wins.</param>
    public static int Select(ulong key, ReadOnlySpan<ulong> candidateIds, ReadOnlySpan<double> weights)
    {
        if (candidateIds.Length == 0 || candidateIds.Length != weights.Length)
        {
            throw new ArgumentException("Straw2 needs one weight per candidate and at least one candidate.", nameof(weights));
        }

        int best = -1;
        double bestDraw = double.NegativeInfinity;
        for (int i = 0; i < candidateIds.Length; i++)
        {
            if (!(weights[i] > 0))
            {
                continue;
            }

            // u in (0, 1]: 53 bits of the hash, never zero, so ln(u) is finite and <= 0.
            ulong hash = Mix(key ^ Mix(candidateIds[i]));
            double u = ((hash >> 11) + 1) * (1.0 / (1UL << 53));
            double draw = Math.Log(u) / weights[i];
            if (draw > bestDraw || (draw == bestDraw && candidateIds[i] < candidateIds[best]))
            {
                best = i;
                bestDraw = draw;
            }
        }

        return best >= 0 ? best : throw new ArgumentException("Straw2 needs at least one candidate with a positive weight.", nameof(weights));
    }

    /// <summary>The key of one chunk of one volume.</summary>
    public static ulong ChunkKey(Guid volumeId, long chunkIndex)
    {
        Span<byte> bytes = stackalloc byte[16];
        volumeId.TryWriteBytes(bytes);
        ulong low = BitConverter.ToUInt64(bytes);
        ulong high = BitConverter.ToUInt64(bytes[8..]);
        return Mix(low ^ Mix(high ^ Mix((ulong)chunkIndex)));
    }

    /// <summary>
    /// The candidate id of a named candidate (a drive id): FNV-1a of its characters. Fixed forever,
    /// unlike string.GetHashCode (randomized per process), because it decides where data lives.
    /// </summary>
    public static ulong StableId(string name)
    {
        ulong hash = 14695981039346656037;
        foreach (char c in name)
        {
            hash = (hash ^ c) * 1099511628211;
        }

        return hash;
    }

    /// <summary>SplitMix64's finalizer: a fixed, well-distributed 64-bit mix (never changes, so placement never does).</summary>
    private static ulong Mix(ulong value)
    {
        value += 0x9E3779B97F4A7C15;
        value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9;
        value = (value ^ (value >> 27)) * 0x94D049BB133111EB;
        return value ^ (value >> 31);
    }
}
