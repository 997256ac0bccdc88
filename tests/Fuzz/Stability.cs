using System.Runtime.InteropServices;

namespace NovaStor.Fuzz;

/// <summary>
/// Runs one case many times in this process against the instrumented assemblies (artifacts/fuzz/bin,
/// after scripts/fuzz.sh) with a trace map of its own, and counts the map entries whose AFL hit-count
/// bucket changed between runs: what afl-fuzz reports as instability, for finding its source without
/// AFL. The first run is left out (static initialization).
/// </summary>
internal static unsafe class Stability
{
    private const int MapSize = 1 << 16;

    public static int Run(string target, string file, int runs)
    {
        var input = File.ReadAllBytes(file);
        byte* map = (byte*)NativeMemory.AllocZeroed(MapSize);
        SharpFuzz.Common.Trace.SharedMem = map;
        using var queue = target == "queue" ? new QueueCase() : null;
        byte[]? first = null;
        var varied = new HashSet<int>();
        int covered = 0;
        for (int run = 0; run <= runs; run++)
        {
            new Span<byte>(map, MapSize).Clear();
            SharpFuzz.Common.Trace.PrevLocation = 0;
            try
            {
                if (queue is null)
                {
                    FramerCase.Run(input);
                }
                else
                {
                    queue.Run(input, probe: true);
                }
            }
            catch (Exception ex) when (ex is FuzzFinding or CaseHungException)
            {
                Console.WriteLine($"run {run}: {ex.Message}");
            }

            var buckets = new byte[MapSize];
            for (int i = 0; i < MapSize; i++)
            {
                buckets[i] = Bucket(map[i]);
            }

            if (run == 0)
            {
                continue;
            }

            if (first is null)
            {
                first = buckets;
                covered = buckets.Count(b => b != 0);
                continue;
            }

            for (int i = 0; i < MapSize; i++)
            {
                if (buckets[i] != first[i])
                {
                    varied.Add(i);
                }
            }
        }

        Console.WriteLine($"{covered} map entries hit; {varied.Count} varied over {runs} runs: {string.Join(' ', varied.Order().Take(40))}");
        return 0;
    }

    /// <summary>AFL's hit-count classes.</summary>
    private static byte Bucket(byte hits) => hits switch
    {
        0 => 0,
        1 => 1,
        2 => 2,
        3 => 4,
        <= 7 => 8,
        <= 15 => 16,
        <= 31 => 32,
        <= 127 => 64,
        _ => 128,
    };
}
