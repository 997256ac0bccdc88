using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using NovaStor.Csi.Hosting;
using CsiV1 = NovaStor.Csi.V1;

namespace NovaStor.Csi.Tests.Node;

/// <summary>
/// The driver in node mode on a Unix socket, with its /etc/nvme, sysfs and /dev in a temporary
/// folder (the build machine's kernel has no NVMe over Fabrics host: what needs one runs in the
/// QEMU guest). Each test gets its own.
/// </summary>
public sealed class NodePlugin : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly GrpcChannel _channel;

    private NodePlugin(string folder, WebApplication app)
    {
        Folder = folder;
        _app = app;
        _channel = CsiDriver.Connect(Path.Combine(folder, "csi.sock"));
    }

    public string Folder { get; }

    public string EtcNvme => Path.Combine(Folder, "etc-nvme");

    public string Dev => Path.Combine(Folder, "dev");

    public CsiV1.Node.NodeClient Node => new(_channel);

    public CsiV1.Identity.IdentityClient Identity => new(_channel);

    /// <summary>Where the plugin notes its managed volumes.</summary>
    public string ManagedState => Path.Combine(Folder, "managed");

    public static Task<NodePlugin> StartAsync(string name = "worker-1", params string[] more) =>
        StartOnAsync(Directory.CreateTempSubdirectory("novastor-csi-node-").FullName, name, more);

    /// <summary>A plugin on a given folder: a restarted plugin finds what the earlier one left (the folder is deleted when it is disposed).</summary>
    public static async Task<NodePlugin> StartOnAsync(string folder, string name, params string[] more)
    {
        Directory.CreateDirectory(Path.Combine(folder, "sys"));
        Directory.CreateDirectory(Path.Combine(folder, "dev"));
        var app = CsiHost.Build([
            "--Logging:LogLevel:Default=Warning",
            "--Csi:Mode=node",
            $"--Csi:Endpoint=unix://{Path.Combine(folder, "csi.sock")}",
            $"--Csi:Node:Name={name}",
            $"--Csi:Node:NvmeConfigDirectory={Path.Combine(folder, "etc-nvme")}",
            $"--Csi:Node:SysfsRoot={Path.Combine(folder, "sys")}",
            $"--Csi:Node:DevRoot={Path.Combine(folder, "dev")}",
            "--Csi:Node:CommandTimeoutSeconds=20",
            "--Csi:Node:MaxVolumes=64",
            $"--Csi:Node:ManagedStateDirectory={Path.Combine(folder, "managed")}",
            .. more,
        ]);
        await app.StartAsync();
        return new NodePlugin(folder, app);
    }

    public string HostNqn => File.ReadAllText(Path.Combine(EtcNvme, "hostnqn")).Trim();

    /// <summary>An 8 MiB ext4 volume made by <paramref name="controller"/> and published to this plugin's node (its host NQN admitted).</summary>
    public async Task<CsiV1.Volume> PublishedVolumeAsync(CsiDriver controller, string name)
    {
        var volume = (await controller.Controller.CreateVolumeAsync(Capabilities.Create(name, 8 << 20), deadline: CsiDriver.Deadline)).Volume;
        await controller.Controller.ControllerPublishVolumeAsync(new CsiV1.ControllerPublishVolumeRequest
        {
            VolumeId = volume.VolumeId,
            NodeId = HostNqn,
            VolumeCapability = Capabilities.Mount(),
        }, deadline: CsiDriver.Deadline);
        return volume;
    }

    /// <summary>NodeStage of <paramref name="volume"/> as ext4 at <paramref name="staging"/>, its context changed by <paramref name="change"/>.</summary>
    public static CsiV1.NodeStageVolumeRequest Stage(CsiV1.Volume volume, string staging, Action<IDictionary<string, string>> change)
    {
        var request = new CsiV1.NodeStageVolumeRequest { VolumeId = volume.VolumeId, StagingTargetPath = staging, VolumeCapability = Capabilities.Mount(), VolumeContext = { volume.VolumeContext } };
        change(request.VolumeContext);
        return request;
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(Folder, recursive: true);
    }
}
