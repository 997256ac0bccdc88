using System.Net;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace NovaStor.Csi.Controller;

/// <summary>
/// Keeps <see cref="StorageNodes"/> equal to the data-plane pods the Kubernetes API lists (running,
/// ready, on a node), read at start and every <see cref="KubernetesDiscoveryOptions.RefreshSeconds"/>.
/// No database of our own: a volume's node is in its ID, and the node's address is its pod's host IP.
/// When the API does not answer, the last list stays (logged), and Probe says not ready until a
/// first list arrives.
/// </summary>
internal sealed partial class KubernetesStorageNodes(StorageNodes nodes, IOptions<CsiOptions> options, ILogger<KubernetesStorageNodes> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value.Kubernetes;
        using var client = new Kubernetes(Configuration(settings));
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(1, settings.RefreshSeconds)));
        do
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(nodes.CallTimeout);
                var pods = await client.CoreV1.ListNamespacedPodAsync(settings.Namespace, labelSelector: settings.LabelSelector, cancellationToken: timeout.Token).ConfigureAwait(false);
                var found = StorageNodesOf(pods.Items, settings);
                foreach (string problem in nodes.Replace(found))
                {
                    Log.PodSkipped(logger, problem);
                }

                Log.Listed(logger, pods.Items.Count, nodes.All.Count, string.Join(", ", nodes.All.Select(n => $"{n.Name} {n.ControlPlane}")));
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && e is HttpRequestException or k8s.Autorest.HttpOperationException or OperationCanceledException or System.Text.Json.JsonException or IOException)
            {
                Log.ListFailed(logger, settings.Namespace, settings.LabelSelector, e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>The storage nodes the pods describe: one per Kubernetes node with a running, ready pod.</summary>
    public static IReadOnlyList<StorageNodeOptions> StorageNodesOf(IEnumerable<V1Pod> pods, KubernetesDiscoveryOptions settings) =>
        pods.Where(IsServing)
            .GroupBy(pod => pod.Spec.NodeName, StringComparer.Ordinal)
            .Select(samenode => samenode.OrderByDescending(pod => pod.Metadata.CreationTimestamp).First())
            .Select(pod =>
            {
                string host = IPAddress.TryParse(pod.Status.HostIP, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                    ? $"[{pod.Status.HostIP}]"
                    : pod.Status.HostIP;
                return new StorageNodeOptions
                {
                    Name = pod.Spec.NodeName,
                    ControlPlane = $"https://{host}:{settings.ControlPlanePort}",
                    NvmeAddresses = [$"{host}:{settings.NvmePort}"],
                };
            })
            .OrderBy(node => node.Name, StringComparer.Ordinal)
            .ToList();

    private static bool IsServing(V1Pod pod) =>
        pod.Metadata?.DeletionTimestamp is null
        && pod.Spec?.NodeName is { Length: > 0 }
        && pod.Status is { Phase: "Running", HostIP.Length: > 0 } status
        && status.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    private static KubernetesClientConfiguration Configuration(KubernetesDiscoveryOptions settings) =>
        settings.KubeConfig.Length > 0
            ? KubernetesClientConfiguration.BuildConfigFromConfigFile(settings.KubeConfig)
            : KubernetesClientConfiguration.InClusterConfig();

    private static partial class Log
    {
        [LoggerMessage(60, LogLevel.Information, "Storage nodes from the Kubernetes API: {Pods} data-plane pods, {Nodes} serving: {List}")]
        public static partial void Listed(ILogger logger, int pods, int nodes, string list);

        [LoggerMessage(61, LogLevel.Warning, "Listing the data-plane pods (namespace {Namespace}, labels {Selector}) failed; the last list stays: {Error}")]
        public static partial void ListFailed(ILogger logger, string @namespace, string selector, string error);

        [LoggerMessage(62, LogLevel.Warning, "A data-plane pod was left out: {Problem}")]
        public static partial void PodSkipped(ILogger logger, string problem);
    }
}
