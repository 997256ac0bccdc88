using Grpc.Core;
using Grpc.Net.Client;
using NovaStor.ControlPlane;
using NovaStor.ControlPlane.V1;
using Xunit;

namespace NovaStor.Target.Tests.ControlPlane;

/// <summary>
/// A target in this process with its control plane on a free loopback port, and clients for
/// every service. Restartable on the same folder and ports, to check what a restart keeps.
/// </summary>
public sealed class ControlPlaneTarget : IAsyncDisposable
{
    private GrpcChannel? _channel;

    private ControlPlaneTarget(RunningTarget target, int controlPort)
    {
        Target = target;
        ControlPort = controlPort;
    }

    public RunningTarget Target { get; }
    public int ControlPort { get; }

    public Volumes.VolumesClient Volumes => new(Channel);
    public NovaStor.ControlPlane.V1.Subsystems.SubsystemsClient Subsystems => new(Channel);
    public Listeners.ListenersClient Listeners => new(Channel);
    public Controllers.ControllersClient Controllers => new(Channel);
    public Stats.StatsClient Stats => new(Channel);

    private GrpcChannel Channel => _channel ??= ControlPlaneChannel.Create(ClientOptions);

    /// <summary>How a client reaches this target's control plane: mutual TLS with the development certificates it made on first start.</summary>
    public ControlPlaneClientOptions ClientOptions =>
        ControlPlaneClientOptions.FromDirectory(new Uri($"https://127.0.0.1:{ControlPort}"), CertificateFiles.DevelopmentDirectory(Target.DataDirectory));

    private string[] ControlArguments => ["--NovaStor:ControlPlane:Enabled=true", $"--NovaStor:ControlPlane:Port={ControlPort}"];

    /// <summary>
    /// Starts a target on two free ports. A port found free can be taken by another test's
    /// connection before the target binds it: then it starts again on fresh ports (three tries).
    /// </summary>
    public static async Task<ControlPlaneTarget> StartAsync(params string[] extraArguments)
    {
        for (int attempt = 1; ; attempt++)
        {
            var target = new ControlPlaneTarget(RunningTarget.Create(extraArguments), RunningTarget.FreePort());
            try
            {
                await target.StartAgainAsync();
                return target;
            }
            catch (IOException e) when (attempt < 3 && e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                await target.DisposeAsync();
            }
        }
    }

    public async Task StartAgainAsync(params string[] moreArguments) => await Target.StartAgainAsync([.. ControlArguments, .. moreArguments]);

    public async Task StopAsync()
    {
        if (_channel is not null)
        {
            await _channel.ShutdownAsync();
            _channel.Dispose();
            _channel = null;
        }

        await Target.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _channel?.Dispose();
        await Target.DisposeAsync();
    }

    /// <summary>Deadline for every call: bounded, like every other wait in the tests.</summary>
    public static DateTime Deadline => DateTime.UtcNow.AddSeconds(30);

    /// <summary>Asserts a call is refused with <paramref name="code"/> and a message containing <paramref name="words"/>.</summary>
    public static async Task<RpcException> RefusedAsync(StatusCode code, string words, Func<Task> call)
    {
        var refused = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(code, refused.StatusCode);
        Assert.Contains(words, refused.Status.Detail, StringComparison.OrdinalIgnoreCase);
        return refused;
    }
}
