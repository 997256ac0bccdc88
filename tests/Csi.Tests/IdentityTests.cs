using Grpc.Core;
using NovaStor.Csi.V1;
using Xunit;
using static NovaStor.Csi.Tests.CsiDriver;
using ExpansionType = NovaStor.Csi.V1.PluginCapability.Types.VolumeExpansion.Types.Type;
using ServiceType = NovaStor.Csi.V1.PluginCapability.Types.Service.Types.Type;

namespace NovaStor.Csi.Tests;

/// <summary>CSI Identity: name and version, capabilities, and Probe's readiness (the storage nodes answer or not).</summary>
public sealed class IdentityTests(TwoNodeDriver fixture) : IClassFixture<TwoNodeDriver>
{
    private CsiDriver Driver => fixture.Driver;

    [Fact]
    public async Task The_plugin_is_named_and_versioned()
    {
        var info = await Driver.Identity.GetPluginInfoAsync(new GetPluginInfoRequest(), deadline: Deadline);
        Assert.Equal("novastor.csi.io", info.Name);
        Assert.Matches(@"^\d+\.\d+\.\d+$", info.VendorVersion);
    }

    [Fact]
    public async Task It_offers_a_controller_topology_and_online_expansion()
    {
        var capabilities = await Driver.Identity.GetPluginCapabilitiesAsync(new GetPluginCapabilitiesRequest(), deadline: Deadline);
        var services = capabilities.Capabilities.Where(c => c.Service is not null).Select(c => c.Service.Type).ToHashSet();
        Assert.Equal([ServiceType.ControllerService, ServiceType.VolumeAccessibilityConstraints], services.Order());
        Assert.Equal(ExpansionType.Online, Assert.Single(capabilities.Capabilities, c => c.VolumeExpansion is not null).VolumeExpansion.Type);
    }

    [Fact]
    public async Task Probe_is_ready_while_storage_nodes_answer_and_not_when_none_does()
    {
        Assert.True((await Driver.Identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready);

        await using var lonely = await StartAsync(["only"]);
        Assert.True((await lonely.Identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready);
        await lonely.Node("only").Target.StopAsync();
        Assert.False((await lonely.Identity.ProbeAsync(new ProbeRequest(), deadline: Deadline)).Ready);
    }

    [Fact]
    public async Task What_is_not_offered_is_unimplemented()
    {
        var refused = await Assert.ThrowsAsync<RpcException>(() => Driver.Controller.CreateSnapshotAsync(new CreateSnapshotRequest { Name = "s", SourceVolumeId = "node-a/x" }, deadline: Deadline).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, refused.StatusCode);
    }
}
