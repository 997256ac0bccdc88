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
