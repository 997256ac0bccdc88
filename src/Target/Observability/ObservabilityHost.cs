using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.Observability;

/// <summary>How the console log is written ("NovaStor:LogFormat").</summary>
public enum LogFormat
{
    /// <summary>One line per message, with a timestamp: for people.</summary>
    Simple,
    /// <summary>One JSON object per line, the message's named values (ControllerId, QueueId, ...) as properties of "State": for log collectors.</summary>
    Json,
}

/// <summary>
/// Logs, metrics and their endpoint in the target's host: the console log format, the Meter
/// "NovaStor.Target" exported by OpenTelemetry's Prometheus exporter, and the scrape endpoint on a
/// Kestrel endpoint of its own (HTTP/1.1, default 127.0.0.1:9100, path /metrics), where the latency
/// histograms (<see cref="LatencyExposition"/>) follow the exporter's output.
/// </summary>
internal static class ObservabilityHost
{
    public const string LogFormatSetting = "NovaStor:LogFormat";
    public const string ScrapePath = "/metrics";

    public static void AddObservability(WebApplicationBuilder builder)
    {
        AddConsoleLog(builder);

        var options = builder.Configuration.GetSection(MetricsOptions.Section).Get<MetricsOptions>() ?? new MetricsOptions();
        builder.Services.AddSingleton(options);
        if (!options.Enabled)
        {
            return;
        }

        if (!IPAddress.TryParse(options.Address, out var address))
        {
            throw new InvalidOperationException($"{MetricsOptions.Section}:Address '{options.Address}' is not an IP address.");
        }

        if (options.Port is < 1 or > 65535)
        {
            throw new InvalidOperationException($"{MetricsOptions.Section}:Port {options.Port} is outside 1..65535.");
        }

        builder.Services.AddSingleton<TargetMetrics>();
        builder.Services.AddSingleton<LatencyExposition>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(TargetMetrics.MeterName)
            .AddPrometheusExporter(prometheus =>
            {
                // Every scrape reads the counters afresh; no scope labels or target_info series: the
                // meter is the target's only one, and the histograms written beside have neither.
                prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
                prometheus.ScopeInfoEnabled = false;
                prometheus.TargetInfoEnabled = false;
            }));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, options.Port, listen => listen.Protocols = HttpProtocols.Http1));
    }

    public static void MapObservability(WebApplication app)
    {
        var options = app.Services.GetRequiredService<MetricsOptions>();
        if (!options.Enabled)
        {
            return;
        }

        _ = app.Services.GetRequiredService<TargetMetrics>(); // creates the instruments
        var histograms = app.Services.GetRequiredService<LatencyExposition>();
        // Only on the metrics port: no other endpoint of the host answers it.
        app.MapPrometheusScrapingEndpoint(ScrapePath, meterProvider: null, configureBranchedPipeline: branch => branch.Use(async (context, next) =>
        {
            // The histograms that follow are in the classic text format: ask the exporter for the same
            // (Prometheus accepts it whatever it offered; OpenMetrics would end with "# EOF").
            context.Request.Headers.Accept = "text/plain; version=0.0.4";
            await next(context).ConfigureAwait(false);
            if (context.Response.StatusCode == StatusCodes.Status200OK)
            {
                await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(histograms.Render()), context.RequestAborted).ConfigureAwait(false);
            }
        }), optionsName: null).RequireHost($"*:{options.Port}");

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("NovaStor.Target");
        app.Lifetime.ApplicationStarted.Register(() => Log.MetricsServed(logger, options.Address, options.Port, ScrapePath));
    }

    /// <summary>The console log: single lines (the default) or JSON lines (<see cref="LogFormat"/>).</summary>
    private static void AddConsoleLog(WebApplicationBuilder builder) => AddConsoleLog(builder.Logging, builder.Configuration);

    /// <summary>The console log as configured, for the host and for loggers made before it exists (start-up lines).</summary>
    internal static void AddConsoleLog(ILoggingBuilder logging, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        string? configured = configuration[LogFormatSetting];
        var format = LogFormat.Simple;
        if (!string.IsNullOrEmpty(configured) && !(Enum.TryParse(configured, ignoreCase: true, out format) && Enum.IsDefined(format)))
        {
            throw new InvalidOperationException($"{LogFormatSetting} '{configured}' is neither Simple nor Json.");
        }

        if (format == LogFormat.Json)
        {
            logging.AddJsonConsole(json =>
            {
                json.IncludeScopes = true;
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
            });
        }
        else
        {
            logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
    }
}
