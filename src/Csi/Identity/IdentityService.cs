using Grpc.Core;
using NovaStor.Csi.Controller;
using NovaStor.Csi.V1;
using ServiceType = NovaStor.Csi.V1.PluginCapability.Types.Service.Types.Type;
using ExpansionType = NovaStor.Csi.V1.PluginCapability.Types.VolumeExpansion.Types.Type;

namespace NovaStor.Csi.Identity;

/// <summary>
/// CSI Identity: the driver's name and version, what it offers (a controller service, volumes
/// bound to their storage node's topology, online expansion), and whether it can work now: ready
/// when at least one storage node's control plane answers.
/// </summary>
internal sealed class IdentityService(StorageNodes nodes, VolumeProvisioner provisioner) : V1.Identity.IdentityBase
{
    public static string Version { get; } = typeof(IdentityService).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public override Task<GetPluginInfoResponse> GetPluginInfo(GetPluginInfoRequest request, ServerCallContext context) =>
        Task.FromResult(new GetPluginInfoResponse { Name = CsiOptions.DriverName, VendorVersion = Version });

    public override Task<GetPluginCapabilitiesResponse> GetPluginCapabilities(GetPluginCapabilitiesRequest request, ServerCallContext context)
    {
        var response = new GetPluginCapabilitiesResponse();
        foreach (var type in new[] { ServiceType.ControllerService, ServiceType.VolumeAccessibilityConstraints })
        {
            response.Capabilities.Add(new PluginCapability { Service = new PluginCapability.Types.Service { Type = type } });
        }

        response.Capabilities.Add(new PluginCapability { VolumeExpansion = new PluginCapability.Types.VolumeExpansion { Type = ExpansionType.Online } });
        return Task.FromResult(response);
    }

    public override async Task<ProbeResponse> Probe(ProbeRequest request, ServerCallContext context)
    {
        if (nodes.All.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "No storage node is configured (Csi:StorageNodes)."));
        }

        var answering = await provisioner.CapacitiesAsync(nodes.All, context.CancellationToken).ConfigureAwait(false);
        return new ProbeResponse { Ready = answering.Count > 0 };
    }
}
