using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace NovaStor.BlockEngine.Tests;

/// <summary>Submit-and-await for tests: one completion object (and one Task) per request.</summary>
internal static class VolumeTestExtensions
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Completions that arrived more than once, anywhere; must stay zero.</summary>
    public static int DuplicateCompletions;

    public static Task<int> SubmitAsync(this IBlockVolume volume, BlockRequest request)
    {
        var completion = new AwaitableCompletion();
        volume.Submit(in request, completion, 42);
        return completion.Task.WaitAsync(Timeout);
    }

    public static Task<int> ReadAsync(this IBlockVolume volume, long offset, AlignedBuffer buffer, int length = -1)
        => volume.SubmitAsync(new BlockRequest(BlockOperation.Read, offset, length < 0 ? buffer.Length : length, buffer.Address));

    public static Task<int> WriteAsync(this IBlockVolume volume, long offset, AlignedBuffer buffer, int length = -1, BlockFlags flags = BlockFlags.None)
        => volume.SubmitAsync(new BlockRequest(BlockOperation.Write, offset, length < 0 ? buffer.Length : length, buffer.Address, flags));

    /// <summary>Reads a range into a fresh array (asserting success).</summary>
    public static async Task<byte[]> ReadBytesAsync(this IBlockVolume volume, long offset, int length)
    {
        using var buffer = new AlignedBuffer(length);
        buffer.Span.Fill(0xEE); // so a read that does nothing is visible
        int error = await volume.ReadAsync(offset, buffer);
        Assert.Equal(0, error);
        return buffer.Span.ToArray();
    }

    /// <summary>Writes bytes (asserting success).</summary>
    public static async Task WriteBytesAsync(this IBlockVolume volume, long offset, ReadOnlyMemory<byte> data, BlockFlags flags = BlockFlags.None)
    {
        using var buffer = new AlignedBuffer(data.Length);
        data.Span.CopyTo(buffer.Span);
        int error = await volume.WriteAsync(offset, buffer, flags: flags);
        Assert.Equal(0, error);
    }

    private sealed class AwaitableCompletion : IBlockCompletion
    {
        private readonly TaskCompletionSource<int> _source = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public Task<int> Task => _source.Task;

        public void OnBlockCompleted(ulong userData, int error)
        {
            if (Interlocked.Increment(ref _calls) != 1 || userData != 42)
            {
                Interlocked.Increment(ref DuplicateCompletions);
                return;
            }
            _source.SetResult(error);
        }
    }
}

/// <summary>A directory for one test, deleted afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string? root = null)
    {
        FullPath = Path.Combine(root ?? Path.GetTempPath(), "novastor-blockengine-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(FullPath);
    }

    public string FullPath { get; }

    public string File(string name) => Path.Combine(FullPath, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(FullPath, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Keeps every formatted log message.</summary>
internal sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Entries.Enqueue((logLevel, formatter(state, exception)));

    public bool Contains(string text) => Entries.Any(e => e.Message.Contains(text, StringComparison.Ordinal));
}

/// <summary>Counts down a batch of completions (allocation tests: one reusable object, no Task per request).</summary>
internal sealed class BatchCompletion : IBlockCompletion, IDisposable
{
    public readonly ManualResetEventSlim Done = new(false);
    public int Failures;
    private int _remaining;

    public void Reset(int count)
    {
        Done.Reset();
        Volatile.Write(ref _remaining, count);
    }

    public void OnBlockCompleted(ulong userData, int error)
    {
        if (error != 0)
        {
            Interlocked.Increment(ref Failures);
        }

        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            Done.Set();
        }
    }

    public void Dispose() => Done.Dispose();
}

/// <summary>
/// Steady-state allocation of a volume's requests, measured over the whole process (submitting
/// thread and engine threads) after a warm-up, as the best of several rounds: the test runner's
/// own work can land in one round, a per-request allocation shows in every round.
/// </summary>
internal static class RequestAllocation
{
    public const int Depth = 32;
    public const int Batches = 400; // 12,800 requests a round

    /// <summary>Reads and writes in turn.</summary>
    public static readonly Func<int, BlockOperation> ReadsAndWrites = static i => (i & 1) == 0 ? BlockOperation.Write : BlockOperation.Read;

    /// <summary>Reads and writes with a flush and a write-zeroes in every eight requests.</summary>
    public static readonly Func<int, BlockOperation> Mixed = static i => (i % 8) switch
    {
        7 => BlockOperation.Flush,
        6 => BlockOperation.WriteZeroes,
        _ => ReadsAndWrites(i),
    };

    /// <summary>Asserts every request succeeded and the best round allocated less than one object per 800 requests.</summary>
    /// <param name="requestBytes">Length of each request (offsets advance by 4 KiB); the volume needs 16 MiB plus this.</param>
    public static void AssertNone(IBlockVolume volume, Func<int, BlockOperation> operationFor, int requestBytes = 4096)
    {
        using var buffers = new AlignedBuffer(Depth * requestBytes);
        using var batch = new BatchCompletion();
        RunBatches(volume, buffers, batch, operationFor, 50, requestBytes); // warm up: pools, threads, JIT

        long fewest = long.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            RunBatches(volume, buffers, batch, operationFor, Batches, requestBytes);
            fewest = Math.Min(fewest, GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        Assert.Equal(0, batch.Failures);
        // One object per request would be >= 24 bytes each, about 300 KB a round; allow for stray
        // runtime allocations (thread-pool bookkeeping, timers) that do not scale with requests.
        Assert.True(fewest < 16 * 1024, $"{fewest} bytes allocated for {Depth * Batches} requests in the best of 5 rounds");
    }

    private static void RunBatches(IBlockVolume volume, AlignedBuffer buffers, BatchCompletion batch, Func<int, BlockOperation> operationFor, int batches, int requestBytes)
    {
        for (int b = 0; b < batches; b++)
        {
            batch.Reset(Depth);
            for (int i = 0; i < Depth; i++)
            {
                long offset = (((long)b * Depth) + i) % 4096 * 4096;
                var request = new BlockRequest(operationFor(i), offset, requestBytes, buffers.Address + (i * requestBytes));
                volume.Submit(in request, batch, (ulong)i);
            }

            Assert.True(batch.Done.Wait(VolumeTestExtensions.Timeout), "a batch did not complete");
        }
    }
}

/// <summary>CPU time of one thread of this process, from /proc.</summary>
internal static class ThreadCpu
{
    /// <summary>utime + stime of thread <paramref name="tid"/> (fields 14 and 15 of /proc/self/task/TID/stat), in clock ticks.</summary>
    public static long Ticks(int tid)
    {
        string stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is the state (field 3); utime and stime are fields 14 and 15.
        return long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture)
            + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
    }
}
