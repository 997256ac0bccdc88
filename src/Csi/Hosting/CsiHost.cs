using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NovaStor.Csi.Controller;
using NovaStor.Csi.Identity;
using NovaStor.Csi.Node;

namespace NovaStor.Csi.Hosting;

/// <summary>
/// The driver's process: CSI over gRPC (HTTP/2 without TLS, as the sidecars speak it) on a Unix
/// socket, with the services of its mode. Configuration errors stop it before it listens.
/// </summary>
public static class CsiHost
{
    public const string UnixScheme = "unix://";

    /// <summary>Builds the driver from command-line style arguments (<c>--Csi:Mode=controller</c> ...).</summary>
    /// <exception cref="InvalidOperationException">The configuration cannot work; the message says what to fix.</exception>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var options = builder.Configuration.GetSection("Csi").Get<CsiOptions>() ?? new CsiOptions();
        if (options.Mode is not ("controller" or "node"))
        {
            throw new InvalidOperationException($"Csi:Mode '{options.Mode}' must be 'controller' or 'node'.");
        }

        if (options.Mode == "node" && string.IsNullOrWhiteSpace(options.Node.Name))
        {
            throw new InvalidOperationException("Csi:Node:Name is required in node mode: the node's name, its topology value (in Kubernetes, spec.nodeName from the downward API).");
        }

        if (options.Mode == "node" && !VolumeContext.IsAttachMode(options.Node.AttachMode))
        {
            throw new InvalidOperationException($"Csi:Node:AttachMode '{options.Node.AttachMode}' must be '{VolumeContext.AttachKernel}' (the kernel's NVMe/TCP host) or '{VolumeContext.AttachManaged}' (a ublk device served by this plugin).");
        }

        if (options.Mode == "node" && (options.Node.ManagedQueues is < 1 or > 64 || options.Node.ManagedQueueDepth is < 1 or > 4096))
        {
            throw new InvalidOperationException($"Csi:Node:ManagedQueues ({options.Node.ManagedQueues}) must be 1..64 and Csi:Node:ManagedQueueDepth ({options.Node.ManagedQueueDepth}) 1..4096.");
        }

        if (options.Mode == "node" && options.Node.ManagedPollMicroseconds is < 0 or > NovaStor.Initiator.NvmeConnectionOptions.MaxPollMicroseconds)
        {
            throw new InvalidOperationException($"Csi:Node:ManagedPollMicroseconds ({options.Node.ManagedPollMicroseconds}) must be 0..{NovaStor.Initiator.NvmeConnectionOptions.MaxPollMicroseconds}.");
        }

        string socket = SocketPath(options.Endpoint);
        Directory.CreateDirectory(Path.GetDirectoryName(socket)!);
        // A socket left by an earlier run would make the bind fail.
        File.Delete(socket);

        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(socket, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.Configure<CsiOptions>(builder.Configuration.GetSection("Csi"));
        builder.Services.AddGrpc(grpc => grpc.EnableDetailedErrors = false);
        if (options.Mode == "controller")
        {
            builder.Services.AddSingleton<StorageNodes>();
            if (options.Kubernetes.Enabled)
            {
                builder.Services.AddHostedService<KubernetesStorageNodes>();
            }

            builder.Services.AddSingleton<VolumeProvisioner>();
            builder.Services.AddSingleton<IPluginReadiness, ControllerReadiness>();
        }
        else
        {
            // The identity is read (or made once) now: a node whose /etc/nvme is broken does not start.
            var identity = NodeHostIdentity.LoadOrCreate(options.Node.NvmeConfigDirectory);
            builder.Services.AddSingleton(identity);
            builder.Services.AddSingleton(services => new ExternalCommands(
                services.GetRequiredService<ILogger<ExternalCommands>>(), TimeSpan.FromSeconds(Math.Max(1, options.Node.CommandTimeoutSeconds))));
            builder.Services.AddSingleton<IPluginReadiness, NodeReadiness>();
            // Never disposed at shutdown: a managed volume's device must outlive the plugin, its I/O
            // waiting for the next plugin to take it back (ManagedRecovery).
            builder.Services.AddSingleton<ManagedAttachments>();
            builder.Services.AddHostedService<ManagedRecovery>();
        }

        var app = builder.Build();
        app.MapGrpcService<IdentityService>();
        if (options.Mode == "controller")
        {
            // The storage node list is checked now, not at the first call.
            _ = app.Services.GetRequiredService<StorageNodes>();
            app.MapGrpcService<ControllerService>();
        }
        else
        {
            app.MapGrpcService<NodeService>();
        }

        return app;
    }

    /// <summary>The socket path of a unix:///path endpoint.</summary>
    public static string SocketPath(string endpoint)
    {
        if (!endpoint.StartsWith(UnixScheme, StringComparison.Ordinal) || endpoint.Length <= UnixScheme.Length + 1 || endpoint[UnixScheme.Length] != '/')
        {
            throw new InvalidOperationException($"Csi:Endpoint '{endpoint}' must be unix:///absolute/path (the socket the sidecars dial).");
        }

        return endpoint[UnixScheme.Length..];
    }
}
