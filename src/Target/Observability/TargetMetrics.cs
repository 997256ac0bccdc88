using System.Diagnostics.Metrics;
using NovaStor.BlockEngine;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Statistics;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.Observability;

/// <summary>
/// The target's instruments (Meter "NovaStor.Target"). All are observable: they read, when a
/// scrape asks, the counters the queues already keep (<see cref="QueueStatistics"/>), the
/// controller tables and the volumes; nothing is recorded on the I/O path for them. The latency
/// histograms cannot be observable instruments (System.Diagnostics.Metrics has no observable
/// histogram) and are written by <see cref="LatencyExposition"/> beside them.
/// </summary>
internal sealed class TargetMetrics
{
    public const string MeterName = "NovaStor.Target";

    private readonly SubsystemRegistry _registry;

    public TargetMetrics(IMeterFactory meters, SubsystemRegistry registry, SubsystemFactory factory)
    {
        _registry = registry;
        var meter = meters.Create(MeterName, Version);
        meter.CreateObservableCounter("novastor.io.commands", ObserveCommands, "{command}",
            "I/O commands completed per namespace (successful or not), by kind: read, write, other.");
        meter.CreateObservableCounter("novastor.io.bytes", ObserveBytes, "By",
            "Bytes moved by successful Reads (op=read) and Writes (op=write) per namespace.");
        meter.CreateObservableCounter("novastor.io.errors", ObserveErrors, "{command}",
            "I/O commands completed with a status other than success, per namespace.");
        meter.CreateObservableGauge("novastor.engine.requests_in_flight", ObserveInFlight, "{request}",
            "Block engine requests running for the connected I/O queues, per engine lane (io_uring reactor; 'unbound' on the fallback engine).");
        meter.CreateObservableGauge("novastor.controllers", ObserveControllers, "{controller}",
            "Controllers (host associations) of each subsystem.");
        meter.CreateObservableGauge("novastor.io_queues", ObserveIoQueues, "{queue}",
            "I/O queues connected to each subsystem.");
        meter.CreateObservableGauge("novastor.volume.allocated", ObserveAllocated, "By",
            "Bytes allocated to each served volume (thin files: blocks that hold data; other backends: their size, as NUSE reports).");
        meter.CreateObservableGauge("novastor.volume.size", ObserveSize, "By",
            "Size of each served volume.");

        string engine = factory.ActiveEngine.ToString();
        string transport = factory.ActiveTransport.ToString();
        meter.CreateObservableGauge("novastor.target.info", () => new Measurement<int>(1,
            new("version", Version), new("engine", engine), new("transport", transport)),
            description: "Always 1: the target's version, the block engine (IoUring or Fallback) and the NVMe/TCP transport (IoUring or Sockets) that run.");
    }

    private static string Version => typeof(TargetMetrics).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private IEnumerable<Measurement<long>> ObserveCommands()
    {
        foreach (var (subsystem, ns) in Namespaces())
        {
            var totals = ns.Statistics.Snapshot();
            yield return Measure(totals.ReadCommands, subsystem, ns, "read");
            yield return Measure(totals.WriteCommands, subsystem, ns, "write");
            yield return Measure(totals.OtherCommands, subsystem, ns, "other");
        }
    }

    private IEnumerable<Measurement<long>> ObserveBytes()
    {
        foreach (var (subsystem, ns) in Namespaces())
        {
            var totals = ns.Statistics.Snapshot();
            yield return Measure(totals.BytesRead, subsystem, ns, "read");
            yield return Measure(totals.BytesWritten, subsystem, ns, "write");
        }
    }

    private IEnumerable<Measurement<long>> ObserveErrors()
    {
        foreach (var (subsystem, ns) in Namespaces())
        {
            yield return Measure(ns.Statistics.Snapshot().Errors, subsystem, ns);
        }
    }

    private IEnumerable<Measurement<int>> ObserveInFlight()
    {
        var byLane = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var subsystem in _registry.Subsystems)
        {
            foreach (var (_, queue, _) in StatisticsReader.IoQueues(subsystem))
            {
                byLane[queue.Lane.Name] = byLane.GetValueOrDefault(queue.Lane.Name) + queue.EngineRequestsInFlight;
            }
        }

        foreach (var (lane, inFlight) in byLane)
        {
            yield return new Measurement<int>(inFlight, new KeyValuePair<string, object?>("lane", lane));
        }
    }

    private IEnumerable<Measurement<int>> ObserveControllers()
    {
        foreach (var subsystem in _registry.Subsystems)
        {
            yield return new Measurement<int>(subsystem.ControllerCount, new KeyValuePair<string, object?>("subsystem", subsystem.Nqn));
        }
    }

    private IEnumerable<Measurement<int>> ObserveIoQueues()
    {
        foreach (var subsystem in _registry.Subsystems)
        {
            yield return new Measurement<int>(StatisticsReader.IoQueues(subsystem).Count(), new KeyValuePair<string, object?>("subsystem", subsystem.Nqn));
        }
    }

    private IEnumerable<Measurement<long>> ObserveAllocated()
    {
        foreach (var ns in Volumes())
        {
            ulong blocks = ns.AllocatedBlocks(out _) ?? ns.BlockCount;
            yield return new Measurement<long>((long)(blocks << ns.BlockSizeShift), new KeyValuePair<string, object?>("volume", ns.VolumeName));
        }
    }

    private IEnumerable<Measurement<long>> ObserveSize()
    {
        foreach (var ns in Volumes())
        {
            yield return new Measurement<long>(ns.Volume.SizeBytes, new KeyValuePair<string, object?>("volume", ns.VolumeName));
        }
    }

    private IEnumerable<(Subsystem Subsystem, Namespace Namespace)> Namespaces()
    {
        foreach (var subsystem in _registry.Subsystems)
        {
            foreach (var ns in subsystem.Namespaces)
            {
                yield return (subsystem, ns);
            }
        }
    }

    /// <summary>Each served volume once (a volume exported by several subsystems is one volume).</summary>
    private IEnumerable<Namespace> Volumes()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (_, ns) in Namespaces())
        {
            if (seen.Add(ns.VolumeName))
            {
                yield return ns;
            }
        }
    }

    private static Measurement<long> Measure(long value, Subsystem subsystem, Namespace ns, string? op = null) => op is null
        ? new Measurement<long>(value, new("subsystem", subsystem.Nqn), new("nsid", ns.Id), new("volume", ns.VolumeName))
        : new Measurement<long>(value, new("subsystem", subsystem.Nqn), new("nsid", ns.Id), new("volume", ns.VolumeName), new("op", op));
}
