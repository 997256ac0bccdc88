using NovaStor.Conformance.KernelHost;
using NovaStor.ControlPlane;
using NovaStor.Csi.Tests;
using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;
using CsiV1 = NovaStor.Csi.V1;

namespace NovaStor.Conformance.Container;

/// <summary>
/// The CSI driver's image (the Dockerfile's csi stage, what deploy/csi runs): it carries the tools
/// the node plugin runs, its controller provisions on a real target over mutual TLS from inside the
/// container, and its node plugin makes and reports the node's NVMe host identity. Both on Unix
/// sockets in folders of the test's, bind-mounted as the manifests mount theirs.
/// </summary>
[Collection(KernelHostCollection.Name)]
public sealed class CsiImageTests(CsiImage image, ITestOutputHelper output) : IClassFixture<CsiImage>
{
    private static readonly TimeSpan CommandLimit = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Image_has_the_node_tools()
    {
        string versions = await Podman.CheckedAsync(CommandLimit,
        [
            "run", "--rm", .. Podman.Limits, "--entrypoint", "/bin/sh", image.Tag, "-c",
            "set -e; nvme version; blkid -V; mount -V; umount -V; mkfs.ext4 -V 2>&1; command -v resize2fs; mkfs.xfs -V; xfs_growfs -V",
        ]);
        output.WriteLine(versions);
        Assert.Contains("nvme version", versions, StringComparison.Ordinal);
        Assert.Contains("mkfs.xfs version", versions, StringComparison.Ordinal);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Controller_in_the_image_provisions_on_a_target_and_the_node_plugin_reports_its_host_nqn()
    {
        int controlPort = RunningTarget.FreePort();
        await using var target = await RunningTarget.StartAsync("--NovaStor:ControlPlane:Enabled=true", $"--NovaStor:ControlPlane:Port={controlPort}");
        var folder = Directory.CreateTempSubdirectory("novastor-csi-image-");
        string sockets = Directory.CreateDirectory(Path.Combine(folder.FullName, "csi")).FullName;
        string certificates = Directory.CreateDirectory(Path.Combine(folder.FullName, "certs")).FullName;
        string nvme = Directory.CreateDirectory(Path.Combine(folder.FullName, "nvme")).FullName;
        // The image's user (uid 1654) makes the sockets and the host identity; it reads the client credentials.
        foreach (string writable in new[] { sockets, nvme })
        {
            File.SetUnixFileMode(writable, (UnixFileMode)0x1FF);
        }

        foreach (string file in new[] { CertificateFiles.ClientCertificate, CertificateFiles.ClientKey, CertificateFiles.CaCertificate })
        {
            string copy = Path.Combine(certificates, file);
            File.Copy(Path.Combine(CertificateFiles.DevelopmentDirectory(target.DataDirectory), file), copy);
            File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        string controller = Podman.UniqueName("novastor-csi-controller"), node = Podman.UniqueName("novastor-csi-node");
        try
        {
            await Podman.CheckedAsync(CommandLimit,
            [
                "run", "-d", "--name", controller, "--network", "host", .. Podman.Limits,
                "-v", $"{sockets}:/csi", "-v", $"{certificates}:/etc/novastor/control-plane:ro", image.Tag,
                "--Csi:Mode=controller", "--Csi:Endpoint=unix:///csi/controller.sock",
                "--Csi:StorageNodes:0:Name=node-1", $"--Csi:StorageNodes:0:ControlPlane=https://127.0.0.1:{controlPort}",
            ]);
            await Podman.CheckedAsync(CommandLimit,
            [
                "run", "-d", "--name", node, "--network", "host", .. Podman.Limits,
                "-v", $"{sockets}:/csi", "-v", $"{nvme}:/etc/nvme", image.Tag,
                "--Csi:Mode=node", "--Csi:Node:Name=worker-1", "--Csi:Endpoint=unix:///csi/node.sock",
            ]);
            await WaitForSocketAsync(Path.Combine(sockets, "controller.sock"), controller);
            await WaitForSocketAsync(Path.Combine(sockets, "node.sock"), node);

            using (var channel = CsiDriver.Connect(Path.Combine(sockets, "controller.sock")))
            {
                var identity = new CsiV1.Identity.IdentityClient(channel);
                Assert.Equal("novastor.csi.io", (await identity.GetPluginInfoAsync(new CsiV1.GetPluginInfoRequest(), deadline: CsiDriver.Deadline)).Name);
                Assert.True((await identity.ProbeAsync(new CsiV1.ProbeRequest(), deadline: CsiDriver.Deadline)).Ready);
                var controllerClient = new CsiV1.Controller.ControllerClient(channel);
                var volume = (await controllerClient.CreateVolumeAsync(Capabilities.Create("from-the-image", 8 << 20), deadline: CsiDriver.Deadline)).Volume;
                Assert.Equal("node-1/from-the-image", volume.VolumeId);
                await controllerClient.DeleteVolumeAsync(new CsiV1.DeleteVolumeRequest { VolumeId = volume.VolumeId }, deadline: CsiDriver.Deadline);
            }

            using (var channel = CsiDriver.Connect(Path.Combine(sockets, "node.sock")))
            {
                var info = await new CsiV1.Node.NodeClient(channel).NodeGetInfoAsync(new CsiV1.NodeGetInfoRequest(), deadline: CsiDriver.Deadline);
                Assert.Equal((await File.ReadAllTextAsync(Path.Combine(nvme, "hostnqn"))).Trim(), info.NodeId);
                Assert.Equal("worker-1", info.AccessibleTopology.Segments["novastor.io/node"]);
            }
        }
        finally
        {
            foreach (string name in new[] { controller, node })
            {
                output.WriteLine($"{name}:\n{(await Podman.RunAsync(CommandLimit, "logs", name)).Output}");
                await Podman.RunAsync(CommandLimit, "rm", "-f", name);
            }

            folder.Delete(recursive: true);
        }
    }

    private static async Task WaitForSocketAsync(string socket, string container)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (!File.Exists(socket))
        {
            if (DateTime.UtcNow > until)
            {
                string logs = (await Podman.RunAsync(CommandLimit, "logs", container)).Output;
                throw new InvalidOperationException($"{container} made no socket {socket} within 60 s:\n{logs}");
            }

            await Task.Delay(250);
        }
    }
}
