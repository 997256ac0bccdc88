using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NovaStor.Load;

/// <summary>What a run measured (the ramp excluded). MB/s are 10^6 bytes per second, as fio prints them.</summary>
public sealed record LoadReport(
    LoadJob Job,
    long Ios,
    long Reads,
    long Writes,
    double Seconds,
    double Iops,
    double MegabytesPerSecond,
    double P50Micros,
    double P99Micros,
    double P999Micros,
    double ClientCpuSeconds,
    double? TargetCpuSeconds,
    long Errors,
    string? FirstError,
    long VerifiedBlocks,
    long VerifyFailures)
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>True when no I/O failed and nothing failed verification.</summary>
    public bool Succeeded => Errors == 0 && VerifyFailures == 0;

    /// <summary>Client CPU microseconds per I/O.</summary>
    public double ClientCpuMicrosPerIo => Ios == 0 ? 0 : ClientCpuSeconds * 1e6 / Ios;

    /// <summary>Target CPU microseconds per I/O, when the target was sampled.</summary>
    public double? TargetCpuMicrosPerIo => TargetCpuSeconds is { } seconds && Ios > 0 ? seconds * 1e6 / Ios : null;

    /// <summary>Voluntary + involuntary context switches of the client process (every thread) over the measured window.</summary>
    public long ClientContextSwitches { get; init; }

    /// <summary>The same for the target, summed over its threads, when it was sampled.</summary>
    public long? TargetContextSwitches { get; init; }

    public double ClientContextSwitchesPerIo => Ios == 0 ? 0 : (double)ClientContextSwitches / Ios;

    public double? TargetContextSwitchesPerIo => TargetContextSwitches is { } switches && Ios > 0 ? (double)switches / Ios : null;

    public string ToTable()
    {
        var text = new StringBuilder();
        text.Append(Invariant, $"{Job.FioName} bs={Job.BlockSize} iodepth={Job.QueueDepth} queues={Job.Queues} runtime={Seconds:0.0}s\n");
        text.Append("| IOPS | MB/s | p50 us | p99 us | p99.9 us | client CPU s (us/IO) | target CPU s (us/IO) | ctx sw/IO client/target | errors | verify |\n");
        text.Append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        string target = TargetCpuSeconds is { } t ? string.Create(Invariant, $"{t:0.00} ({TargetCpuMicrosPerIo:0.0})") : "-";
        string targetSwitches = TargetContextSwitchesPerIo is { } s ? s.ToString("0.00", Invariant) : "-";
        string verify = Job.Verify ? string.Create(Invariant, $"{VerifiedBlocks:N0} blocks, {VerifyFailures} bad") : "off";
        text.Append(Invariant, $"| {Iops:N0} | {MegabytesPerSecond:N1} | {P50Micros:0.0} | {P99Micros:0.0} | {P999Micros:0.0} | {ClientCpuSeconds:0.00} ({ClientCpuMicrosPerIo:0.0}) | {target} | {ClientContextSwitchesPerIo:0.00}/{targetSwitches} | {Errors} | {verify} |\n");
        if (FirstError is not null)
        {
            text.Append("first error: ").Append(FirstError).Append('\n');
        }

        return text.ToString();
    }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("rw", Job.FioName);
            json.WriteNumber("bs", Job.BlockSize);
            json.WriteNumber("iodepth", Job.QueueDepth);
            json.WriteNumber("queues", Job.Queues);
            json.WriteNumber("rwmixread", Job.ReadPercent);
            json.WriteBoolean("verify", Job.Verify);
            json.WriteNumber("ios", Ios);
            json.WriteNumber("reads", Reads);
            json.WriteNumber("writes", Writes);
            json.WriteNumber("seconds", Seconds);
            json.WriteNumber("iops", Iops);
            json.WriteNumber("mbps", MegabytesPerSecond);
            json.WriteNumber("lat_p50_us", P50Micros);
            json.WriteNumber("lat_p99_us", P99Micros);
            json.WriteNumber("lat_p99_9_us", P999Micros);
            json.WriteNumber("client_cpu_s", ClientCpuSeconds);
            if (TargetCpuSeconds is { } target)
            {
                json.WriteNumber("target_cpu_s", target);
            }
            else
            {
                json.WriteNull("target_cpu_s");
            }

            json.WriteNumber("client_ctx_switches", ClientContextSwitches);
            if (TargetContextSwitches is { } targetSwitches)
            {
                json.WriteNumber("target_ctx_switches", targetSwitches);
            }
            else
            {
                json.WriteNull("target_ctx_switches");
            }

            json.WriteNumber("errors", Errors);
            json.WriteString("first_error", FirstError);
            json.WriteNumber("verified_blocks", VerifiedBlocks);
            json.WriteNumber("verify_failures", VerifyFailures);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
