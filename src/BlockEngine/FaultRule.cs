namespace NovaStor.BlockEngine;

/// <summary>
/// Which requests a <see cref="FaultInjectingVolume"/> disturbs and how: requests that match
/// (operation, byte range) are counted, and the rule fires on the matches its counters select
/// (skip the first N, then every Nth, at most M times), failing them with an errno, delaying
/// them, or both.
/// </summary>
/// <remarks>
/// The counters belong to the rule (thread safe, lock free): give each volume its own rules. Change
/// a rule's behaviour by removing it and adding a new one; its settings are fixed at construction.
/// </remarks>
public sealed class FaultRule
{
    private int _matches;
    private int _injections;

    /// <summary>The operation to match; null matches every operation.</summary>
    public BlockOperation? Operation { get; init; }

    /// <summary>
    /// Start of the byte range a request must overlap to match. A flush has no range: it matches only
    /// rules that leave the range at its default, [0, long.MaxValue).
    /// </summary>
    public long RangeStart { get; init; }

    /// <summary>End (exclusive) of the byte range a request must overlap to match.</summary>
    public long RangeEnd { get; init; } = long.MaxValue;

    /// <summary>The errno the request completes with when the rule fires; 0 only delays it.</summary>
    public int Error { get; init; } = Errno.EIO;

    /// <summary>The first N matching requests pass untouched ("fail after N requests").</summary>
    public int SkipFirst { get; init; }

    /// <summary>After those, the rule fires on every Nth matching request (1: every one).</summary>
    public int EveryNth { get; init; } = 1;

    /// <summary>How many times the rule fires at most (1: once; the default: always).</summary>
    public int MaxInjections { get; init; } = int.MaxValue;

    /// <summary>Added before the request goes on (or before its error is reported).</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>
    /// False (the default): a failed request never reaches the volume (a write that was lost). True:
    /// it runs on the volume and its result is then replaced by <see cref="Error"/> (a write that
    /// landed but was reported failed).
    /// </summary>
    public bool ReachesVolume { get; init; }

    /// <summary>Requests this rule has counted.</summary>
    public int MatchCount => Volatile.Read(ref _matches);

    /// <summary>Times this rule has fired.</summary>
    public int InjectionCount => Volatile.Read(ref _injections);

    /// <summary>A rule that fails every matching request with <paramref name="error"/>.</summary>
    public static FaultRule Always(int error, BlockOperation? operation = null) => new() { Error = error, Operation = operation };

    /// <summary>A rule that fails only the next matching request with <paramref name="error"/>.</summary>
    public static FaultRule Once(int error, BlockOperation? operation = null) => new() { Error = error, Operation = operation, MaxInjections = 1 };

    internal bool Matches(in BlockRequest request)
    {
        if (Operation is { } operation && operation != request.Operation)
        {
            return false;
        }
        if (request.Operation == BlockOperation.Flush)
        {
            return RangeStart <= 0 && RangeEnd == long.MaxValue;
        }
        // Overlap of [Offset, Offset + Length) with [RangeStart, RangeEnd), without overflow.
        return request.Length > 0 && request.Offset < RangeEnd && request.Offset > Math.Max(RangeStart, 0) - request.Length;
    }

    /// <summary>Counts a matching request; true when the rule fires on it (and takes one injection).</summary>
    internal bool CountAndFire()
    {
        int match = Interlocked.Increment(ref _matches);
        if (match <= SkipFirst || (match - SkipFirst) % Math.Max(EveryNth, 1) != 0)
        {
            return false;
        }
        int taken = Volatile.Read(ref _injections);
        while (taken < MaxInjections)
        {
            int seen = Interlocked.CompareExchange(ref _injections, taken + 1, taken);
            if (seen == taken)
            {
                return true;
            }
            taken = seen;
        }
        return false;
    }
}
