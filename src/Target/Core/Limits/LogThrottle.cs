namespace NovaStor.Target.Core.Limits;

/// <summary>
/// Lets one message per key (a host NQN, a remote address) through per interval and counts the
/// ones it held back, so that a host that repeats a refused request cannot flood the log. The keys
/// kept are bounded: a flood from ever new keys shares one key once the table is full.
/// </summary>
internal sealed class LogThrottle(TimeProvider time, TimeSpan interval, int maxKeys = 4096)
{
    private const string OverflowKey = "(many)";
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private sealed class Entry
    {
        public long LoggedAt;
        public int Suppressed;
    }

    /// <summary>True when a message for <paramref name="key"/> may be logged now; <paramref name="suppressed"/> says how many were held back since the last one.</summary>
    public bool ShouldLog(string key, out int suppressed)
    {
        long now = time.GetTimestamp();
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                if (_entries.Count >= maxKeys)
                {
                    Prune(now);
                }

                if (_entries.Count >= maxKeys && !_entries.TryGetValue(key = OverflowKey, out entry))
                {
                    entry = null;
                }

                if (entry is null)
                {
                    _entries[key] = new Entry { LoggedAt = now };
                    suppressed = 0;
                    return true;
                }
            }

            if (time.GetElapsedTime(entry.LoggedAt, now) < interval)
            {
                entry.Suppressed++;
                suppressed = 0;
                return false;
            }

            suppressed = entry.Suppressed;
            entry.Suppressed = 0;
            entry.LoggedAt = now;
            return true;
        }
    }

    private void Prune(long now)
    {
        foreach (var (key, entry) in _entries.ToArray())
        {
            if (time.GetElapsedTime(entry.LoggedAt, now) >= interval)
            {
                _entries.Remove(key);
            }
        }
    }
}
