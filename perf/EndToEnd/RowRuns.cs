using NovaStor.EngineVsFio;
using NovaStor.Load;

namespace NovaStor.EndToEnd;

/// <summary>One run of a row through a target (A or B) in one round.</summary>
internal sealed record TargetRun(int Round, string Target, LoadReport Report);

/// <summary>One run of fio on the raw file in one round.</summary>
internal sealed record FioRun(int Round, FioMeasurement Measurement);

/// <summary>
/// A row's figures through one target, each the median over the rounds on its own (so the
/// median IOPS and the median latency may come from different rounds, as fio's rungs report them).
/// </summary>
internal sealed record TargetMedians(double Iops, double MegabytesPerSecond, double P50Micros, double P99Micros, double P999Micros,
    double ClientCpuMicrosPerIo, double? TargetCpuMicrosPerIo, double ClientSwitchesPerIo, double? TargetSwitchesPerIo);

/// <summary>fio's figures for a row on the raw file, medians over the rounds (fio's CPU and switches are its job's).</summary>
internal sealed record FioMedians(double Iops, double MegabytesPerSecond, double P50Micros, double P99Micros, double P999Micros,
    double CpuMicrosPerIo, double SwitchesPerIo);

/// <summary>Every run of one row, in the order they ran.</summary>
internal sealed class RowRuns(RungRow row)
{
    public RungRow Row => row;

    public List<TargetRun> Target { get; } = [];

    public List<FioRun> Fio { get; } = [];

    public TargetMedians MediansOf(string target)
    {
        var reports = Target.Where(r => r.Target == target).Select(r => r.Report).ToList();
        return new TargetMedians(
            Median(reports.Select(r => r.Iops)),
            Median(reports.Select(r => r.MegabytesPerSecond)),
            Median(reports.Select(r => r.P50Micros)),
            Median(reports.Select(r => r.P99Micros)),
            Median(reports.Select(r => r.P999Micros)),
            Median(reports.Select(r => r.ClientCpuMicrosPerIo)),
            MedianOfKnown(reports.Select(r => r.TargetCpuMicrosPerIo)),
            Median(reports.Select(r => r.ClientContextSwitchesPerIo)),
            MedianOfKnown(reports.Select(r => r.TargetContextSwitchesPerIo)));
    }

    /// <summary>fio's medians; null for a row without fio (a memory row).</summary>
    public FioMedians? FioMedians()
    {
        if (Fio.Count == 0)
        {
            return null;
        }

        var runs = Fio.ConvertAll(f => f.Measurement);
        return new FioMedians(
            Median(runs.Select(m => m.Iops)),
            Median(runs.Select(m => m.BytesPerSecond / 1e6)),
            Median(runs.Select(m => m.P50Micros)),
            Median(runs.Select(m => m.P99Micros)),
            Median(runs.Select(m => m.P999Micros)),
            Median(runs.Select(m => m.CpuMicrosPerIo)),
            Median(runs.Select(m => m.ContextSwitchesPerIo)));
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The median of the values that were measured; null when none was (the target's /proc could not be read).</summary>
    private static double? MedianOfKnown(IEnumerable<double?> values)
    {
        double[] known = [.. values.OfType<double>()];
        return known.Length == 0 ? null : Median(known);
    }
}
