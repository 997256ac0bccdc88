using System.Buffers;

namespace NovaStor.Fuzz;

/// <summary>A bug the harness found: anything thrown out of a fuzz case is one.</summary>
internal sealed class FuzzFinding : Exception
{
    public FuzzFinding(string message)
        : base(message)
    {
    }

    public FuzzFinding(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>A case that did not finish within its bound: a hang (AFL records it as one, see Program).</summary>
internal sealed class CaseHungException(TimeSpan limit, string state) : Exception($"the case did not finish within {limit.TotalSeconds:0.#} s ({state})");

/// <summary>
/// The committed fuzz cases of a target: the seed corpus (tests/Fuzz/corpus/TARGET) and every
/// crash or hang the fuzzer ever found (tests/Fuzz/regressions/TARGET), for the unit tests that
/// replay them without AFL.
/// </summary>
internal static class FuzzCases
{
    public static string Root { get; } = FindFuzzDirectory();

    /// <summary>Paths relative to tests/Fuzz, sorted: corpus first, then regressions.</summary>
    public static IEnumerable<string> Of(string target) =>
        new[] { "corpus", "regressions" }
            .Select(kind => Path.Combine(Root, kind, target))
            .Where(System.IO.Directory.Exists)
            .SelectMany(folder => System.IO.Directory.GetFiles(folder)
                .Where(file => !Path.GetFileName(file).StartsWith('.') && !file.EndsWith(".md", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal))
            .Select(file => Path.GetRelativePath(Root, file));

    public static byte[] Read(string relativePath) => File.ReadAllBytes(Path.Combine(Root, relativePath));

    private static string FindFuzzDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NovaStor.sln")))
            {
                return Path.Combine(dir.FullName, "tests", "Fuzz");
            }
        }

        throw new InvalidOperationException($"NovaStor.sln not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>Byte sequences cut into segments, as a socket's reads may deliver them.</summary>
internal static class Segments
{
    public static ReadOnlySequence<byte> Split(byte[] bytes, int segmentLength)
    {
        if (bytes.Length <= segmentLength)
        {
            return new ReadOnlySequence<byte>(bytes);
        }

        Segment? first = null, last = null;
        for (int at = 0; at < bytes.Length; at += segmentLength)
        {
            var memory = bytes.AsMemory(at, Math.Min(segmentLength, bytes.Length - at));
            last = last is null ? first = new Segment(memory, 0) : last.Append(memory);
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
