using Microsoft.Extensions.Logging;

namespace NovaStor.Target;

/// <summary>Log messages of the metrics and logs wiring (event ids 270-289).</summary>
internal static partial class Log
{
    [LoggerMessage(270, LogLevel.Information, "Prometheus metrics at http://{Address}:{Port}{Path}")]
    public static partial void MetricsServed(ILogger logger, string address, int port, string path);
}
