namespace NovaStor.EngineVsFio;

/// <summary>The runs of one row across repeats, reduced to medians (robust to one noisy run).</summary>
public sealed class RowSamples(Workload workload)
{
    private readonly List<EngineMeasurement> _engine = [];
    private readonly List<FioMeasurement> _fio = [];

    public Workload Workload => workload;

    public void Add(EngineMeasurement measurement) => _engine.Add(measurement);

    public void Add(FioMeasurement measurement) => _fio.Add(measurement);

    public RowResult ToResult()
    {
        var engine = new SideResult(
            Median(_engine.ConvertAll(m => m.Iops)),
            Median(_engine.ConvertAll(m => m.BytesPerSecond)) / 1e6,
            Median(_engine.ConvertAll(m => m.P50Micros)),
            Median(_engine.ConvertAll(m => m.P99Micros)),
            Median(_engine.ConvertAll(m => m.CpuMicrosPerIo)),
            Median(_engine.ConvertAll(m => m.ContextSwitchesPerIo)),
            _engine.ConvertAll(m => Math.Round(m.Iops)));
        var fio = new SideResult(
            Median(_fio.ConvertAll(m => m.Iops)),
            Median(_fio.ConvertAll(m => m.BytesPerSecond)) / 1e6,
            Median(_fio.ConvertAll(m => m.P50Micros)),
            Median(_fio.ConvertAll(m => m.P99Micros)),
            Median(_fio.ConvertAll(m => m.CpuMicrosPerIo)),
            Median(_fio.ConvertAll(m => m.ContextSwitchesPerIo)),
            _fio.ConvertAll(m => Math.Round(m.Iops)));
        var fioClat = new CompletionLatency(Median(_fio.ConvertAll(m => m.ClatP50Micros)), Median(_fio.ConvertAll(m => m.ClatP99Micros)));
        double ratio = fio.Iops > 0 ? engine.Iops / fio.Iops : 0;
        return new RowResult(workload.Name, workload.FioRw, workload.BlockSize, workload.QueueDepth, engine, fio, fioClat, ratio);
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return 0;
        }
        values.Sort();
        int middle = values.Count / 2;
        return values.Count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }
}
