using Microsoft.Extensions.Configuration;
using NovaStor.Csi.Hosting;
using Xunit;

namespace NovaStor.Csi.Tests;

/// <summary>
/// The deployment (deploy/: the data-plane DaemonSet, the CSI driver's manifests, the Helm chart)
/// agrees with the binaries: every novastor-csi argument is a setting the driver binds (unknown
/// keys fail), the sidecars dial the socket the driver makes, the registrar tells the kubelet where
/// that socket is on the node, the liveness ports match, the controller finds the data-plane pods by
/// their real labels, namespace and ports, and the chart renders exactly the manifests.
/// </summary>
public sealed class ManifestTests
{
    private static readonly IReadOnlyList<(string File, Dictionary<object, object> Document)> All =
        [.. Manifests.Read(Manifests.Deploy), .. Manifests.Read(Path.Combine(Manifests.Deploy, "csi"))];

    private static Dictionary<object, object> Find(string kind, string name) => All.Single(d => d.Document.Kind() == kind && d.Document.Name() == name).Document;

    private static Dictionary<object, object> DataPlane => Find("DaemonSet", "novastor-data-plane");

    private static Dictionary<object, object> Controller => Find("Deployment", "novastor-csi-controller");

    private static Dictionary<object, object> NodePlugin => Find("DaemonSet", "novastor-csi-node");

    private static Dictionary<object, object> Container(Dictionary<object, object> workload, string name) => workload.Containers().Single(c => c.Text("name") == name);

    [Fact]
    public void Every_document_names_its_kind_and_the_namespaced_ones_live_in_novastor()
    {
        var clusterScoped = new[] { "Namespace", "CSIDriver", "StorageClass", "ClusterRole", "ClusterRoleBinding" };
        Assert.True(All.Count >= 12, $"only {All.Count} documents under deploy/");
        foreach (var (file, document) in All)
        {
            Assert.False(string.IsNullOrEmpty(document.TextOrNull("apiVersion")), $"{file}: a document without apiVersion");
            Assert.Equal(clusterScoped.Contains(document.Kind()) ? null : "novastor", document.Namespace());
        }
    }

    /// <summary>The driver's arguments, with the pod's $(VARIABLES) as Kubernetes fills them in.</summary>
    private static string[] DriverArguments(Dictionary<object, object> container) =>
        [.. container.Args().Select(a => a.Replace("$(NODE_NAME)", "worker-1", StringComparison.Ordinal))];

    [Fact]
    public void Every_driver_argument_is_a_setting_the_driver_binds_and_the_modes_are_right()
    {
        foreach (var (workload, mode) in new[] { (Controller, "controller"), (NodePlugin, "node") })
        {
            var driver = Container(workload, "novastor-csi");
            string[] arguments = DriverArguments(driver);
            Assert.All(arguments, a => Assert.Matches("^--Csi:[A-Za-z:0-9]+=", a));
            var configuration = new ConfigurationBuilder().AddCommandLine(arguments).Build();
            // Unknown keys fail: a misspelt setting in a manifest would otherwise be ignored silently.
            var options = configuration.GetSection("Csi").Get<CsiOptions>(binder => binder.ErrorOnUnknownConfiguration = true)!;
            Assert.Equal(mode, options.Mode);
            Assert.StartsWith("/csi/", CsiHost.SocketPath(options.Endpoint), StringComparison.Ordinal);
            if (mode == "node")
            {
                Assert.Equal("worker-1", options.Node.Name);
                Assert.Equal("spec.nodeName", driver.Maps("env").Single(e => e.Text("name") == "NODE_NAME").Map("valueFrom").Map("fieldRef").Text("fieldPath"));
            }
        }
    }

    [Fact]
    public void The_sidecars_dial_the_socket_the_driver_makes_and_the_liveness_ports_agree()
    {
        foreach (var workload in new[] { Controller, NodePlugin })
        {
            var driver = Container(workload, "novastor-csi");
            string socket = CsiHost.SocketPath(driver.Arg("--Csi:Endpoint"));
            string socketVolume = driver.MountAt(Path.GetDirectoryName(socket)!)?.Text("name")
                ?? throw new Xunit.Sdk.XunitException($"{workload.Name()}: the driver does not mount its socket's folder");
            foreach (var sidecar in workload.Containers().Where(c => c != driver))
            {
                Assert.Equal(socket, sidecar.Arg("--csi-address"));
                Assert.Equal(Path.GetDirectoryName(socket), sidecar.Mount(socketVolume).Text("mountPath"));
            }

            // The livenessprobe sidecar serves healthz for the driver's container, on the port its probe asks.
            var liveness = Container(workload, "liveness-probe");
            Assert.Equal(driver.Port("healthz").ToString(System.Globalization.CultureInfo.InvariantCulture), liveness.Arg("--health-port"));
            Assert.Equal("healthz", driver.Map("livenessProbe").Map("httpGet").Text("port"));
        }
    }

    [Fact]
    public void The_node_plugin_reaches_the_kubelet_the_devices_and_the_nvme_identity_of_the_node()
    {
        var driver = Container(NodePlugin, "novastor-csi");
        Assert.Equal("true", driver.Map("securityContext").Text("privileged"));
        Assert.Equal("true", NodePlugin.PodSpec().Text("hostNetwork"));

        // The registrar tells the kubelet the socket's path on the node: the socket folder's hostPath.
        string socket = CsiHost.SocketPath(driver.Arg("--Csi:Endpoint"));
        string socketVolume = driver.MountAt(Path.GetDirectoryName(socket)!)!.Text("name");
        string onNode = NodePlugin.Volume(socketVolume).Map("hostPath").Text("path");
        Assert.Equal($"{onNode}/{Path.GetFileName(socket)}", Container(NodePlugin, "node-driver-registrar").Arg("--kubelet-registration-path"));
        Assert.Equal($"/var/lib/kubelet/plugins/{CsiOptions.DriverName}", onNode);
        Assert.Equal("/registration", Container(NodePlugin, "node-driver-registrar").Mount("registration-dir").Text("mountPath"));
        Assert.Equal("/var/lib/kubelet/plugins_registry", NodePlugin.Volume("registration-dir").Map("hostPath").Text("path"));

        // Mounts made in the kubelet's folder reach the pods; /dev, /sys and /etc/nvme are the node's own.
        var kubelet = driver.MountAt("/var/lib/kubelet")!;
        Assert.Equal("Bidirectional", kubelet.Text("mountPropagation"));
        Assert.Equal("/var/lib/kubelet", NodePlugin.Volume(kubelet.Text("name")).Map("hostPath").Text("path"));
        string nvmeConfig = driver.Arg("--Csi:Node:NvmeConfigDirectory");
        foreach (string path in new[] { "/dev", "/sys", nvmeConfig })
        {
            var mount = driver.MountAt(path) ?? throw new Xunit.Sdk.XunitException($"the node plugin does not mount {path}");
            Assert.Equal(path, NodePlugin.Volume(mount.Text("name")).Map("hostPath").Text("path"));
        }
    }

    [Fact]
    public void The_controller_finds_the_data_plane_pods_by_their_labels_namespace_and_ports_with_its_credentials()
    {
        var driver = Container(Controller, "novastor-csi");
        var target = Container(DataPlane, "target");
        Assert.Equal("true", driver.Arg("--Csi:Kubernetes:Enabled"));
        Assert.Equal(DataPlane.Namespace(), driver.Arg("--Csi:Kubernetes:Namespace"));
        var labels = DataPlane.Map("spec").Map("template").Map("metadata").Map("labels");
        foreach (string requirement in driver.Arg("--Csi:Kubernetes:LabelSelector").Split(','))
        {
            string[] pair = requirement.Split('=');
            Assert.Equal(pair[1], labels.TextOrNull(pair[0]));
        }

        Assert.Equal(target.Env("NovaStor__ControlPlane__Port"), driver.Arg("--Csi:Kubernetes:ControlPlanePort"));
        Assert.Equal(target.Port("grpc").ToString(System.Globalization.CultureInfo.InvariantCulture), driver.Arg("--Csi:Kubernetes:ControlPlanePort"));
        Assert.Equal(target.Env("NovaStor__Port"), driver.Arg("--Csi:Kubernetes:NvmePort"));
        Assert.Equal(target.Port("nvme-tcp").ToString(System.Globalization.CultureInfo.InvariantCulture), driver.Arg("--Csi:Kubernetes:NvmePort"));
        // The data plane serves its control plane on the node's address (what the controller dials), with certificates.
        Assert.Equal("$(NODE_IP)", target.Env("NovaStor__ControlPlane__Address"));
        string serverCertificates = target.Env("NovaStor__ControlPlane__CertificateDirectory");
        Assert.Equal(serverCertificates, target.Mount("certs").Text("mountPath"));
        Assert.Equal("novastor-control-plane", DataPlane.Volume("certs").Map("secret").Text("secretName"));
        // The controller's client credentials are mounted where it reads them.
        string clientCertificates = driver.Arg("--Csi:ControlPlaneCertificates");
        var credentials = driver.MountAt(clientCertificates) ?? throw new Xunit.Sdk.XunitException("the controller does not mount its credentials");
        Assert.Equal("novastor-csi-client", Controller.Volume(credentials.Text("name")).Map("secret").Text("secretName"));

        // Its service account may list those pods.
        string account = Controller.PodSpec().Text("serviceAccountName");
        Assert.Contains(All, d => d.Document.Kind() == "ServiceAccount" && d.Document.Name() == account);
        var binding = All.Single(d => d.Document.Kind() == "RoleBinding" && d.Document.Maps("subjects").Any(s => s.Text("name") == account)).Document;
        var role = Find("Role", binding.Map("roleRef").Text("name"));
        Assert.Equal(DataPlane.Namespace(), role.Namespace());
        Assert.Contains(role.Maps("rules"), rule => rule.List("resources").Contains("pods") && rule.List("verbs").Contains("list"));
    }

    [Fact]
    public void The_driver_the_storage_class_and_the_images_are_the_ones_the_repository_builds()
    {
        var csiDriver = Find("CSIDriver", CsiOptions.DriverName);
        Assert.Equal("true", csiDriver.Map("spec").Text("attachRequired"));
        var storageClass = All.Single(d => d.Document.Kind() == "StorageClass").Document;
        Assert.Equal(CsiOptions.DriverName, storageClass.Text("provisioner"));
        Assert.Contains(storageClass.Map("parameters").Text("csi.storage.k8s.io/fstype"), VolumeCapabilities.FileSystems);
        Assert.Contains(storageClass.Map("parameters").Text(NovaStor.Csi.Controller.StorageClassParameters.BlockSizeKey), new[] { "512", "4096" });
        Assert.Equal("true", storageClass.Text("allowVolumeExpansion"));

        string dockerfile = File.ReadAllText(Path.Combine(Manifests.Root, "Dockerfile"));
        Assert.Contains("AS csi\n", dockerfile, StringComparison.Ordinal);
        Assert.Contains("ENTRYPOINT [\"/app/csi/novastor-csi\"]", dockerfile, StringComparison.Ordinal);
        Assert.Equal("novastor-csi:latest", Container(Controller, "novastor-csi").Text("image"));
        Assert.Equal("novastor-csi:latest", Container(NodePlugin, "novastor-csi").Text("image"));
        Assert.Equal("novastor:latest", Container(DataPlane, "target").Text("image"));
        foreach (var workload in new[] { Controller, NodePlugin })
        {
            Assert.All(workload.Containers().Where(c => c.Text("name") != "novastor-csi"),
                sidecar => Assert.Matches(@"^registry\.k8s\.io/sig-storage/[a-z-]+:v\d+\.\d+\.\d+$", sidecar.Text("image")));
        }
    }

    [Fact]
    public void The_chart_renders_exactly_the_manifests_for_its_default_values()
    {
        var rendered = Manifests.RenderChart("novastor");
        // The chart leaves the namespace to `helm install --namespace`; every other document is there.
        var expected = All.Where(d => d.Document.Kind() != "Namespace").ToList();
        Assert.Equal(
            expected.Select(d => $"{d.Document.Kind()}/{d.Document.Name()}").Order(StringComparer.Ordinal),
            rendered.Select(d => $"{d.Document.Kind()}/{d.Document.Name()}").Order(StringComparer.Ordinal));
        foreach (var (file, document) in rendered)
        {
            var manifest = expected.Single(d => d.Document.Kind() == document.Kind() && d.Document.Name() == document.Name());
            Assert.True(Manifests.Canonical(manifest.Document) == Manifests.Canonical(document),
                $"{file} renders {document.Kind()}/{document.Name()} differently from {manifest.File}");
        }
    }
}
