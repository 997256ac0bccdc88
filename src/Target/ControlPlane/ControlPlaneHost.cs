using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using NovaStor.Target.ControlPlane.Security;
using NovaStor.Target.ControlPlane.Services;
using NovaStor.Target.Hosting;

namespace NovaStor.Target.ControlPlane;

/// <summary>
/// The gRPC control plane inside the target's Kestrel host, on its own endpoint (HTTP/2 only,
/// mutual TLS unless the insecure development flag is set), with gRPC health checking and server
/// reflection so grpcurl and Kubernetes probes work.
/// </summary>
internal static partial class ControlPlaneHost
{
    [LoggerMessage(203, LogLevel.Information, "Control plane (gRPC, {Security}) on {Address}:{Port}; the novastor CLI manages volumes, subsystems and listeners through it")]
    private static partial void Serving(ILogger logger, string address, int port, string security);

    public static void AddControlPlane(WebApplicationBuilder builder, TargetOptions target, ControlPlaneOptions options)
    {
        builder.Services.AddSingleton(options);
        if (!options.Enabled)
        {
            return;
        }

        if (!IPAddress.TryParse(options.Address, out var address))
        {
            throw new InvalidOperationException($"NovaStor:ControlPlane:Address '{options.Address}' is not an IP address.");
        }

        if (options.Port is < 1 or > 65535)
        {
            throw new InvalidOperationException($"NovaStor:ControlPlane:Port {options.Port} is outside 1..65535.");
        }

        if (options.Insecure && !IPAddress.IsLoopback(address))
        {
            throw new InvalidOperationException($"NovaStor:ControlPlane:Insecure binds loopback only; {options.Address} is not a loopback address (configure certificates instead).");
        }

        builder.Services.AddGrpc(grpc => grpc.EnableDetailedErrors = false);
        // With no check registered the health service answers UNKNOWN, which Kubernetes' gRPC probe
        // counts as a failure: a control plane that answers at all is alive.
        builder.Services.AddGrpcHealthChecks().AddCheck("control-plane", () => HealthCheckResult.Healthy());
        builder.Services.AddGrpcReflection();
        builder.Services.AddSingleton<NodeState>();
        builder.Services.AddHostedService<InsecureWarning>();

        ControlPlaneTls.RefuseInsecureWithCertificates(options);
        // Before the host's logging exists: the same Logging section and console format (simple or JSON), so these lines obey its levels.
        using var startupLoggers = LoggerFactory.Create(logging =>
            Observability.ObservabilityHost.AddConsoleLog(logging.AddConfiguration(builder.Configuration.GetSection("Logging")), builder.Configuration));
        var tls = options.Insecure ? null : ControlPlaneTls.Prepare(options, target.DataDirectory, startupLoggers.CreateLogger("NovaStor.ControlPlane"));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, options.Port, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            tls?.Apply(listen);
        }));
    }

    public static void MapControlPlane(WebApplication app)
    {
        var options = app.Services.GetRequiredService<ControlPlaneOptions>();
        if (!options.Enabled)
        {
            return;
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("NovaStor.ControlPlane");
        app.Lifetime.ApplicationStarted.Register(() => Serving(logger, options.Address, options.Port, options.Insecure ? "INSECURE plaintext" : "mutual TLS"));

        // Only on the control plane's own port: no other endpoint of the host answers these.
        string host = $"*:{options.Port}";
        app.MapGrpcService<VolumesService>().RequireHost(host);
        app.MapGrpcService<SubsystemsService>().RequireHost(host);
        app.MapGrpcService<ListenersService>().RequireHost(host);
        app.MapGrpcService<ControllersService>().RequireHost(host);
        app.MapGrpcService<StatsService>().RequireHost(host);
        app.MapGrpcHealthChecksService().RequireHost(host);
        app.MapGrpcReflectionService().RequireHost(host);
    }
}
