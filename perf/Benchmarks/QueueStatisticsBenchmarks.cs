using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using NovaStor.BlockEngine;
using NovaStor.Protocol;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Statistics;

namespace NovaStor.Benchmarks;

/// <summary>
/// What the I/O statistics add to each command, alone: the receipt timestamp (one per batch of
/// received PDUs, here one per 64 commands, as a queue receiving at depth 64 takes it), and
/// <see cref="QueueStatistics.Record"/> at the response (the completion timestamp, the namespace's
/// counters found by NSID, the increments and the latency bucket). Commands alternate Read and Write
/// over <see cref="Namespaces"/> namespaces of one queue; time and bytes are per command.
/// </summary>
[MemoryDiagnoser]
public class QueueStatisticsBenchmarks
{
    private const int Commands = 64;

    [Params(1, 8)]
    public int Namespaces { get; set; } = 1;

    private readonly QueueStatistics _statistics = new();
    private NvmeRequest[] _requests = [];
    private NullVolume? _volume;

    [GlobalSetup]
    public void Setup()
    {
        _volume = new NullVolume(1L << 30, 4096);
        var namespaces = Enumerable.Range(1, Namespaces)
            .Select(id => new Namespace((uint)id, $"bench{id}", _volume, new byte[16], new byte[16]))
            .ToArray();
        _requests = new NvmeRequest[Commands];
        for (int i = 0; i < Commands; i++)
        {
            var request = new NvmeRequest((ushort)i, 128 * 1024);
            request.Reset(new SubmissionQueueEntry { Opcode = i % 2 == 0 ? IoOpcode.Read : IoOpcode.Write, NamespaceId = (uint)((i % Namespaces) + 1) });
            request.Namespace = namespaces[i % Namespaces];
            request.DataLength = 4096;
            _requests[i] = request;
        }

        RecordCommands(); // each namespace's counters exist from here on, as after a queue's first commands
    }

    /// <summary>The receipt timestamp of the batch, then each command counted at its response.</summary>
    [Benchmark(OperationsPerInvoke = Commands)]
    public void RecordCommands()
    {
        long received = Stopwatch.GetTimestamp();
        foreach (var request in _requests)
        {
            request.ReceivedTimestamp = received;
            _statistics.Record(request);
        }
    }

    /// <summary>One Stopwatch reading per command: the clock's share of the above.</summary>
    [Benchmark(OperationsPerInvoke = Commands)]
    public long TimestampOnly()
    {
        long sum = 0;
        foreach (var request in _requests)
        {
            sum += Stopwatch.GetTimestamp() - request.ReceivedTimestamp;
        }

        return sum;
    }

    [GlobalCleanup]
    public void Cleanup() => _volume?.Dispose();
}
