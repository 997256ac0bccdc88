using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using NovaStor.ControlPlane;
using NovaStor.Csi.Hosting;
using NovaStor.Target.Tests;
using Xunit;
using CsiV1 = NovaStor.Csi.V1;

namespace NovaStor.Csi.Tests;

/// <summary>
/// The CSI driver in controller mode on a Unix socket in a temporary folder, provisioning on real
/// storage nodes: NovaStor targets in this process, each with its control plane on mutual TLS (its
/// own development CA, so each node has its own client credentials).
/// </summary>
public sealed class CsiDriver : IAsyncDisposable
{
    private readonly string _folder;
    private readonly WebApplication _app;
    private readonly GrpcChannel _channel;

    private CsiDriver(string folder, WebApplication app, IReadOnlyList<StorageNode> nodes)
    {
        _folder = folder;
        _app = app;
        Nodes = nodes;
        Socket = Path.Combine(folder, "csi.sock");
        _channel = Connect(Socket);
    }

    /// <summary>A storage node: its name, its target, and a client of its control plane.</summary>
    /// <param name="ListenerArguments">The target's listeners (two when asked for), given again when it restarts.</param>
    public sealed record StorageNode(string Name, RunningTarget Target, int ControlPort, string[] ListenerArguments)
    {
        /// <summary>Stops the target, keeps it down for <paramref name="down"/>, and starts it again on the same folder and ports.</summary>
        public async Task RestartAsync(TimeSpan down)
        {
            await Target.StopAsync();
            await Task.Delay(down);
            await Target.StartAgainAsync(ListenerArguments);
        }

        public GrpcChannel ControlPlane() => ControlPlaneChannel.Create(ControlPlaneClientOptions.FromDirectory(
            new Uri($"https://127.0.0.1:{ControlPort}"), CertificateFiles.DevelopmentDirectory(Target.DataDirectory)));
    }

    public IReadOnlyList<StorageNode> Nodes { get; }

    public string Socket { get; }

    public CsiV1.Identity.IdentityClient Identity => new(_channel);

    public CsiV1.Controller.ControllerClient Controller => new(_channel);

    /// <summary>Starts <paramref name="nodeNames"/> as storage nodes (and <paramref name="deadNodes"/> as configured nodes nothing listens for), then the driver.</summary>
    /// <param name="nvmeAddresses">Where hosts reach a node's target ("address:port" per path, from its NVMe/TCP ports); default: what the node reports (127.0.0.1).</param>
    /// <param name="twoListeners">Each target listens on two ports (two paths to every volume).</param>
    public static async Task<CsiDriver> StartAsync(string[] nodeNames, string[]? deadNodes = null, Func<IReadOnlyList<int>, IEnumerable<string>>? nvmeAddresses = null, bool twoListeners = false)
    {
        var nodes = new List<StorageNode>();
        var args = new List<string> { "--Logging:LogLevel:Default=Warning" };
        var ports = new Dictionary<string, int[]>();
        foreach (string name in nodeNames)
        {
            int port = RunningTarget.FreePort();
            var target = RunningTarget.Create("--NovaStor:ControlPlane:Enabled=true", $"--NovaStor:ControlPlane:Port={port}");
            ports[name] = twoListeners ? [target.Port, RunningTarget.FreePort()] : [target.Port];
            string[] listeners = twoListeners ? [.. ports[name].Select((p, i) => $"--NovaStor:Listeners:{i}:Port={p}")] : [];
            try
            {
                await target.StartAgainAsync(listeners);
            }
            catch
            {
                await target.DisposeAsync();
                throw;
            }

            nodes.Add(new StorageNode(name, target, port, listeners));
        }

        int index = 0;
        foreach (var node in nodes)
        {
            args.Add($"--Csi:StorageNodes:{index}:Name={node.Name}");
            args.Add($"--Csi:StorageNodes:{index}:ControlPlane=https://127.0.0.1:{node.ControlPort}");
            args.Add($"--Csi:StorageNodes:{index}:Certificates={CertificateFiles.DevelopmentDirectory(node.Target.DataDirectory)}");
            int path = 0;
            foreach (string address in nvmeAddresses?.Invoke(ports[node.Name]) ?? [])
            {
                args.Add($"--Csi:StorageNodes:{index}:NvmeAddresses:{path++}={address}");
            }

            index++;
        }

        foreach (string name in deadNodes ?? [])
        {
            args.Add($"--Csi:StorageNodes:{index}:Name={name}");
            args.Add($"--Csi:StorageNodes:{index}:ControlPlane=https://127.0.0.1:{RunningTarget.FreePort()}");
            args.Add($"--Csi:StorageNodes:{index}:Certificates={CertificateFiles.DevelopmentDirectory(nodes[0].Target.DataDirectory)}");
            index++;
        }

        string folder = Directory.CreateTempSubdirectory("novastor-csi-").FullName;
        args.Add($"--Csi:Endpoint=unix://{Path.Combine(folder, "csi.sock")}");
        args.Add("--Csi:CallTimeoutSeconds=10");
        var app = CsiHost.Build([.. args]);
        await app.StartAsync();
        return new CsiDriver(folder, app, nodes);
    }

    public StorageNode Node(string name) => Nodes.Single(n => n.Name == name);

    /// <summary>A gRPC channel to a driver's Unix socket (HTTP/2 without TLS, as the sidecars dial it).</summary>
    public static GrpcChannel Connect(string socket)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await unix.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken);
                    return new NetworkStream(unix, ownsSocket: true);
                }
                catch
                {
                    unix.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    /// <summary>Every call gets a deadline: bounded, like every wait in the tests.</summary>
    public static DateTime Deadline => DateTime.UtcNow.AddSeconds(30);

    /// <summary>Asserts the call fails with <paramref name="code"/> and a message containing <paramref name="words"/>.</summary>
    public static async Task<RpcException> RefusedAsync(StatusCode code, string words, Func<Task> call)
    {
        var refused = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(code == refused.StatusCode, $"expected {code}, got {refused.StatusCode}: {refused.Status.Detail}");
        Assert.Contains(words, refused.Status.Detail, StringComparison.OrdinalIgnoreCase);
        return refused;
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var node in Nodes)
        {
            await node.Target.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>Two storage nodes and the driver, shared by a test class (each test uses its own volume names).</summary>
public sealed class TwoNodeDriver : IAsyncLifetime
{
    public CsiDriver Driver { get; private set; } = null!;

    public async Task InitializeAsync() => Driver = await CsiDriver.StartAsync(["node-a", "node-b"]);

    public async Task DisposeAsync() => await Driver.DisposeAsync();
}
