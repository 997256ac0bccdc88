using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NovaStor.BlockEngine;
using NovaStor.Target.ControlPlane;
using NovaStor.Target.Core;
using NovaStor.Target.Observability;
using NovaStor.Target.Transport;

namespace NovaStor.Target.Hosting;

/// <summary>Builds the target: Kestrel with the NVMe/TCP connection handler, over the configured subsystems.</summary>
public static class TargetHost
{
    private static readonly Dictionary<string, string> ShortSwitches = new(StringComparer.Ordinal)
    {
        ["--port"] = "NovaStor:Port",
        ["--address"] = "NovaStor:ListenAddress",
        ["--data"] = "NovaStor:DataDirectory",
    };

    public static WebApplication Build(string[] args) => Build(args, Environment.GetEnvironmentVariable(ListenAddressVariable.Name));

    /// <param name="listenAddress">The value of <see cref="ListenAddressVariable.Name"/> (null: unset).</param>
    internal static WebApplication Build(string[] args, string? listenAddress)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Configuration.AddCommandLine(args, ShortSwitches);
        // Beneath every other source: NovaStor:ListenAddress, wherever it is set, wins over it.
        ListenAddressVariable.AddTo(builder.Configuration, listenAddress);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // Start-up failures are rethrown and reported in one line by Program; no second copy with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        ObservabilityHost.AddObservability(builder);

        var options = builder.Configuration.GetSection(TargetOptions.Section).Get<TargetOptions>() ?? new TargetOptions();
        var controlPlane = builder.Configuration.GetSection(ControlPlaneOptions.Section).Get<ControlPlaneOptions>() ?? new ControlPlaneOptions();
        // What the control plane created: read before the listeners, which include the ones it added.
        var exports = ExportsStore.Open(options.DataDirectory);
        var listeners = new ListenerConfiguration(options, exports);

        var limits = LimitsFrom(options);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(exports);
        builder.Services.AddSingleton(listeners);
        builder.Services.AddSingleton<ListenerControl>();
        builder.Services.AddSingleton(limits);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<SubsystemFactory>();
        builder.Services.AddSingleton(services => services.GetRequiredService<SubsystemFactory>().Create());
        builder.Services.AddSingleton<Func<EngineLane>>(services => services.GetRequiredService<SubsystemFactory>().AcquireLane);
        // Connections of hosts that stay connected end after this long when the target stops.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.Configure<SocketTransportOptions>(sockets =>
        {
            sockets.NoDelay = true;
            // Socket completions run the queue's receive loop and the sender inline on the socket
            // engine's thread instead of hopping to the thread pool: a context switch less each way
            // per command (the receive loop never blocks; it only parses and posts to the engine).
            sockets.UnsafePreferInlineScheduling = options.InlineSocketScheduling;
            // The framer waits for whole PDUs: the read buffer must hold the largest one.
            sockets.MaxReadBufferSize = 4 * limits.MaxTransferBytes;
            // Responses a queue writes before its socket drains: room for eight full transfers, so
            // that ordinary depths never pause the writer (a paused flush makes the queue's sender
            // await, which allocates); a slow host still holds the queue back beyond that.
            sockets.MaxWriteBufferSize = 8 * limits.MaxTransferBytes;
        });
        // Registered after Kestrel's socket transport, so Kestrel asks it first: it takes the NVMe
        // listener when the queues run on the reactors, and leaves every other endpoint to sockets.
        builder.Services.AddSingleton<NvmeListenerFactory>();
        builder.Services.AddSingleton<IConnectionListenerFactory>(services => services.GetRequiredService<NvmeListenerFactory>());
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var port in listeners.Ports)
            {
                kestrel.Listen(port.Address, port.Port, listen => listen.UseConnectionHandler<NvmeTcpConnectionHandler>());
            }
        });

        ControlPlaneHost.AddControlPlane(builder, options, controlPlane);

        var app = builder.Build();
        ControlPlaneHost.MapControlPlane(app);
        ObservabilityHost.MapObservability(app);

        // Open the volumes now, so a bad configuration fails start-up rather than the first connection.
        var registry = app.Services.GetRequiredService<SubsystemRegistry>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("NovaStor.Target");
        // Kestrel stops the listeners it bound; the ones added at runtime are ours to stop.
        var listenerControl = app.Services.GetRequiredService<ListenerControl>();
        app.Lifetime.ApplicationStopping.Register(() => listenerControl.StopAddedListenersAsync().GetAwaiter().GetResult());
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            foreach (var port in listeners.Ports)
            {
                foreach (var subsystem in registry.Subsystems)
                {
                    string connectAddress = registry.AdvertisedAddress?.ToString() ?? port.Address.ToString();
                    Log.Listening(logger, port.Address.ToString(), port.Port, connectAddress, subsystem.Nqn);
                }
            }
        });
        return app;
    }

    private static TargetLimits LimitsFrom(TargetOptions options)
    {
        if (options.ConnectTimeoutSeconds is < 1 or > 600)
        {
            throw new InvalidOperationException($"NovaStor:ConnectTimeoutSeconds {options.ConnectTimeoutSeconds} is outside 1..600.");
        }

        if (options.CommandBufferMegabytes is < 1 or > 65536)
        {
            throw new InvalidOperationException($"NovaStor:CommandBufferMegabytes {options.CommandBufferMegabytes} is outside 1..65536.");
        }

        var configured = options.Limits;
        foreach (var (name, value, max) in new[]
        {
            ("MaxConnections", configured.MaxConnections, 1_000_000),
            ("MaxConnectionsPerAddress", configured.MaxConnectionsPerAddress, 1_000_000),
            ("MaxControllers", configured.MaxControllers, 65_000),
            ("MaxControllersPerHost", configured.MaxControllersPerHost, 65_000),
            ("MaxIoQueuesPerController", configured.MaxIoQueuesPerController, Controller.MaxIoQueues),
            ("MaxBuffersPerQueue", configured.MaxBuffersPerQueue, 4096),
            ("SendStallSeconds", configured.SendStallSeconds, 3600),
        })
        {
            if (value < 1 || value > max)
            {
                throw new InvalidOperationException($"NovaStor:Limits:{name} {value} is outside 1..{max}.");
            }
        }

        return new TargetLimits
        {
            ConnectTimeout = TimeSpan.FromSeconds(options.ConnectTimeoutSeconds),
            MaxConnections = configured.MaxConnections,
            MaxConnectionsPerAddress = configured.MaxConnectionsPerAddress,
            MaxControllers = configured.MaxControllers,
            MaxControllersPerHost = configured.MaxControllersPerHost,
            MaxIoQueuesPerController = configured.MaxIoQueuesPerController,
            MaxBuffersPerQueue = configured.MaxBuffersPerQueue,
            SendStallTimeout = TimeSpan.FromSeconds(configured.SendStallSeconds),
        };
    }
}
