using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NovaStor.ControlPlane;
using NovaStor.Csi.Controller;
using NovaStor.Csi.Hosting;
using NovaStor.Csi.V1;
using NovaStor.Target.Tests;
using Xunit;
using static NovaStor.Csi.Tests.CsiDriver;

namespace NovaStor.Csi.Tests;

/// <summary>
/// The controller finds its storage nodes through the Kubernetes API: the data-plane pods that are
/// running and ready, each named after its node and reached at its host IP. Here the API is a small
/// server of the test's on 127.0.0.1 answering the pod list, and the one ready pod's node is a real
/// target; the list changes under the controller and it follows.
/// </summary>
public sealed class KubernetesDiscoveryTests : IAsyncLifetime
{
    private const string Namespace = "novastor-test";
    private const string Selector = "app.kubernetes.io/name=novastor,app.kubernetes.io/component=data-plane";

    private readonly string _folder = Directory.CreateTempSubdirectory("novastor-csi-k8s-").FullName;
    private readonly List<string> _requests = [];
    private RunningTarget _target = null!;
    private int _controlPort;
    private WebApplication _api = null!;
    private volatile string _pods = "";
    private volatile bool _apiFails;

    public async Task InitializeAsync()
    {
        _controlPort = RunningTarget.FreePort();
        _target = await RunningTarget.StartAsync("--NovaStor:ControlPlane:Enabled=true", $"--NovaStor:ControlPlane:Port={_controlPort}");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _api = builder.Build();
        _api.MapGet("/api/v1/namespaces/{ns}/pods", (HttpContext context) =>
        {
            lock (_requests)
            {
                _requests.Add($"{context.Request.Path}{context.Request.QueryString}");
            }

            return _apiFails
                ? Results.Problem("etcd is down", statusCode: 500)
                : Results.Text(_pods, "application/json");
        });
        await _api.StartAsync();
    }

    private string ApiAddress => _api.Urls.Single();

    /// <summary>A pod of the data plane as the API lists it.</summary>
    private static string Pod(string name, string node, string phase, bool ready, string hostIp = "127.0.0.1", bool deleting = false) => $$$"""
        {"metadata":{"name":"{{{name}}}","namespace":"{{{Namespace}}}","creationTimestamp":"2026-12-01T10:00:00Z"{{{(deleting ? ",\"deletionTimestamp\":\"2026-12-07T10:00:00Z\"" : "")}}}},
         "spec":{"nodeName":"{{{node}}}","containers":[{"name":"target","image":"novastor:latest"}]},
         "status":{"phase":"{{{phase}}}","hostIP":"{{{hostIp}}}","conditions":[{"type":"Ready","status":"{{{(ready ? "True" : "False")}}}"}]}}
        """;

    private static string PodList(params string[] pods) => $$"""{"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"1"},"items":[{{string.Join(",", pods)}}]}""";

    private async Task<WebApplication> StartControllerAsync()
    {
        string kubeconfig = Path.Combine(_folder, "kubeconfig");
        await File.WriteAllTextAsync(kubeconfig, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster:
                server: {ApiAddress}
            users:
            - name: test
              user:
                token: test-token
            contexts:
            - name: test
              context:
                cluster: test
                user: test
            current-context: test
            """);
        var app = CsiHost.Build(
        [
            "--Logging:LogLevel:Default=Warning",
            $"--Csi:Endpoint=unix://{Path.Combine(_folder, "csi.sock")}",
            "--Csi:Kubernetes:Enabled=true",
            $"--Csi:Kubernetes:KubeConfig={kubeconfig}",
            $"--Csi:Kubernetes:Namespace={Namespace}",
            $"--Csi:Kubernetes:ControlPlanePort={_controlPort}",
            $"--Csi:Kubernetes:NvmePort={_target.Port}",
            "--Csi:Kubernetes:RefreshSeconds=1",
            $"--Csi:ControlPlaneCertificates={CertificateFiles.DevelopmentDirectory(_target.DataDirectory)}",
            "--Csi:CallTimeoutSeconds=10",
        ]);
        await app.StartAsync();
        return app;
    }

    /// <summary>Waits (bounded) until Probe says <paramref name="ready"/>.</summary>
    private static async Task ProbeBecomesAsync(V1.Identity.IdentityClient identity, bool ready)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while ((await identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready != ready)
        {
            Assert.True(DateTime.UtcNow < until, $"Probe did not become {(ready ? "ready" : "not ready")} within 30 s");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task The_running_ready_data_plane_pods_are_the_storage_nodes_and_the_controller_follows_their_changes()
    {
        _pods = PodList(
            Pod("data-plane-a", "k8s-node-1", "Running", ready: true),
            Pod("data-plane-b", "k8s-node-2", "Pending", ready: false),
            Pod("data-plane-c", "k8s-node-3", "Running", ready: false),
            Pod("data-plane-d", "k8s-node-4", "Running", ready: true, deleting: true));
        await using var app = await StartControllerAsync();
        using var channel = Connect(Path.Combine(_folder, "csi.sock"));
        var identity = new V1.Identity.IdentityClient(channel);
        var controller = new V1.Controller.ControllerClient(channel);
        await ProbeBecomesAsync(identity, ready: true);
        lock (_requests)
        {
            Assert.StartsWith($"/api/v1/namespaces/{Namespace}/pods?labelSelector={Uri.EscapeDataString(Selector)}", _requests[0], StringComparison.Ordinal);
        }

        // The one serving pod's node is the storage node: volumes are made there, reached at its host IP.
        var volume = (await controller.CreateVolumeAsync(Capabilities.Create("k8s-found", 8 << 20), deadline: Deadline)).Volume;
        Assert.Equal("k8s-node-1/k8s-found", volume.VolumeId);
        Assert.Equal($"127.0.0.1:{_target.Port}", volume.VolumeContext["novastor.io/paths"]);
        await RefusedAsync(StatusCode.ResourceExhausted, "k8s-node-3",
            () => controller.CreateVolumeAsync(Capabilities.Create("k8s-not-ready", 8 << 20, null, "k8s-node-3"), deadline: Deadline).ResponseAsync);

        // The API failing leaves the last list in place.
        _apiFails = true;
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.True((await identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready);

        // The pod stops being ready: the node is no longer provisioned on, and the controller is not ready.
        _pods = PodList(Pod("data-plane-a", "k8s-node-1", "Running", ready: false));
        _apiFails = false;
        await ProbeBecomesAsync(identity, ready: false);
        await RefusedAsync(StatusCode.ResourceExhausted, "k8s-node-1",
            () => controller.CreateVolumeAsync(Capabilities.Create("k8s-gone", 8 << 20, null, "k8s-node-1"), deadline: Deadline).ResponseAsync);

        // Ready again: the same volume is found where its ID says.
        _pods = PodList(Pod("data-plane-a2", "k8s-node-1", "Running", ready: true));
        await ProbeBecomesAsync(identity, ready: true);
        var again = (await controller.CreateVolumeAsync(Capabilities.Create("k8s-found", 8 << 20), deadline: Deadline)).Volume;
        Assert.Equal(volume.VolumeId, again.VolumeId);
        await controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: Deadline);
        await app.StopAsync();
    }

    [Fact]
    public void A_pod_becomes_a_node_at_its_host_address_ipv6_in_brackets_and_one_per_node()
    {
        var settings = new KubernetesDiscoveryOptions { ControlPlanePort = 9500, NvmePort = 4420 };
        var pods = System.Text.Json.JsonSerializer.Deserialize(
            PodList(
                Pod("a", "node-b", "Running", ready: true, hostIp: "fd00::12"),
                Pod("b", "node-a", "Running", ready: true, hostIp: "10.1.2.3"),
                Pod("c", "node-a", "Running", ready: true, hostIp: "10.1.2.3"),
                Pod("d", "", "Running", ready: true)),
            k8s.SourceGenerationContext.Default.V1PodList)!;
        var nodes = KubernetesStorageNodes.StorageNodesOf(pods.Items, settings);
        Assert.Equal(["node-a", "node-b"], nodes.Select(n => n.Name));
        Assert.Equal("https://10.1.2.3:9500", nodes[0].ControlPlane);
        Assert.Equal(["10.1.2.3:4420"], nodes[0].NvmeAddresses);
        Assert.Equal("https://[fd00::12]:9500", nodes[1].ControlPlane);
        Assert.Equal(["[fd00::12]:4420"], nodes[1].NvmeAddresses);
    }

    [Fact]
    public void A_listed_node_and_discovery_together_are_refused_at_start()
    {
        var refused = Assert.Throws<InvalidOperationException>(() => CsiHost.Build(
        [
            $"--Csi:Endpoint=unix://{Path.Combine(_folder, "refused.sock")}",
            "--Csi:Kubernetes:Enabled=true",
            "--Csi:StorageNodes:0:Name=n1",
            "--Csi:StorageNodes:0:ControlPlane=https://127.0.0.1:1",
        ]));
        Assert.Contains("exclude each other", refused.Message, StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _target.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }
}
