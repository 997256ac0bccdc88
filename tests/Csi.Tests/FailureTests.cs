using Grpc.Core;
using NovaStor.Csi.Hosting;
using NovaStor.Csi.V1;
using Xunit;
using static NovaStor.Csi.Tests.CsiDriver;

namespace NovaStor.Csi.Tests;

/// <summary>
/// Storage nodes that do not answer make the calls that need them UNAVAILABLE (the sidecars retry)
/// and name the node; provisioning without a topology goes on with the nodes that answer; a node
/// that restarts is reached again. A configuration that cannot work stops the driver with a message.
/// </summary>
public sealed class FailureTests
{
    [Fact]
    public async Task A_node_that_does_not_answer_is_named_and_the_others_keep_serving()
    {
        await using var driver = await StartAsync(["node-a"], deadNodes: ["node-down"]);
        Assert.True((await driver.Identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready);

        var created = (await driver.Controller.CreateVolumeAsync(Capabilities.Create("elsewhere", 1 << 20), deadline: Deadline)).Volume;
        Assert.StartsWith("node-a/", created.VolumeId, StringComparison.Ordinal);

        await RefusedAsync(StatusCode.Unavailable, "node-down", () => driver.Controller.CreateVolumeAsync(Capabilities.Create("pinned", 1 << 20, requisiteNodes: "node-down"), deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.Unavailable, "node-down", () => driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = "node-down/pinned" }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.Unavailable, "node-down", () => driver.Controller.ListVolumesAsync(new ListVolumesRequest(), deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.Unavailable, "node-down", () => driver.Controller.ControllerPublishVolumeAsync(new ControllerPublishVolumeRequest
        {
            VolumeId = "node-down/pinned",
            NodeId = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001",
            VolumeCapability = Capabilities.Mount(),
        }, deadline: Deadline).ResponseAsync);
        await driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = created.VolumeId }, deadline: Deadline);
    }

    [Fact]
    public async Task A_storage_node_that_restarts_is_reached_again_and_keeps_its_volumes()
    {
        await using var driver = await StartAsync(["node-a"]);
        var created = (await driver.Controller.CreateVolumeAsync(Capabilities.Create("survives", 1 << 20), deadline: Deadline)).Volume;
        var node = driver.Node("node-a");
        await node.Target.StopAsync();
        await RefusedAsync(StatusCode.Unavailable, "node-a", () => driver.Controller.ListVolumesAsync(new ListVolumesRequest(), deadline: Deadline).ResponseAsync);
        await node.Target.StartAgainAsync();

        // The driver tries the node again within its reconnect backoff (2 s), as a sidecar retries.
        ListVolumesResponse? listed = null;
        for (var until = DateTime.UtcNow.AddSeconds(15); listed is null && DateTime.UtcNow < until;)
        {
            try
            {
                listed = await driver.Controller.ListVolumesAsync(new ListVolumesRequest(), deadline: Deadline);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                await Task.Delay(200);
            }
        }

        Assert.NotNull(listed);
        Assert.Equal(created.VolumeId, Assert.Single(listed.Entries).Volume.VolumeId);
        Assert.Equal(created, (await driver.Controller.CreateVolumeAsync(Capabilities.Create("survives", 1 << 20), deadline: Deadline)).Volume);
        await driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = created.VolumeId }, deadline: Deadline);
    }

    public static TheoryData<string[], string> BadConfigurations => new()
    {
        { ["--Csi:StorageNodes:0:Name=a", "--Csi:StorageNodes:0:ControlPlane=https://127.0.0.1:1", "--Csi:ControlPlaneCertificates=/nonexistent"], "client.pem is missing" },
        { ["--Csi:Endpoint=tcp://127.0.0.1:1"], "unix:///absolute/path" },
        { ["--Csi:StorageNodes:0:Name=a/b", "--Csi:StorageNodes:0:ControlPlane=https://127.0.0.1:1"], "hold no '/'" },
        { ["--Csi:StorageNodes:0:Name=a", "--Csi:StorageNodes:0:ControlPlane=not a uri"], "not an https:// address" },
        { ["--Csi:StorageNodes:0:Name=a", "--Csi:StorageNodes:0:ControlPlane=http://127.0.0.1:1", "--Csi:StorageNodes:1:Name=a", "--Csi:StorageNodes:1:ControlPlane=http://127.0.0.1:2"], "listed twice" },
    };

    [Theory]
    [MemberData(nameof(BadConfigurations))]
    public void A_configuration_that_cannot_work_stops_the_driver_with_what_to_fix(string[] args, string words)
    {
        string folder = Directory.CreateTempSubdirectory("novastor-csi-config-").FullName;
        try
        {
            var failure = Assert.Throws<InvalidOperationException>(() => CsiHost.Build([$"--Csi:Endpoint=unix://{folder}/csi.sock", .. args]));
            Assert.Contains(words, failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
