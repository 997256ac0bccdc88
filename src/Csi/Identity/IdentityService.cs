using Grpc.Core;
using NovaStor.Csi.V1;
using ServiceType = NovaStor.Csi.V1.PluginCapability.Types.Service.Types.Type;
using ExpansionType = NovaStor.Csi.V1.PluginCapability.Types.VolumeExpansion.Types.Type;

namespace NovaStor.Csi.Identity;

/// <summary>
/// CSI Identity: the driver's name and version, what it offers (the controller service in
/// controller mode, volumes bound to their storage node's topology, online expansion), and whether
/// it can work now (<see cref="IPluginReadiness"/>).
/// </summary>
internal sealed class IdentityService(IPluginReadiness readiness) : V1.Identity.IdentityBase
{
    public static string Version { get; } = typeof(IdentityService).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public override Task<GetPluginInfoResponse> GetPluginInfo(GetPluginInfoRequest request, ServerCallContext context) =>
        Task.FromResult(new GetPluginInfoResponse { Name = CsiOptions.DriverName, VendorVersion = Version });

    public override Task<GetPluginCapabilitiesResponse> GetPluginCapabilities(GetPluginCapabilitiesRequest request, ServerCallContext context)
    {
        var response = new GetPluginCapabilitiesResponse();
        var services = readiness.ServesController
            ? new[] { ServiceType.ControllerService, ServiceType.VolumeAccessibilityConstraints }
            : [ServiceType.VolumeAccessibilityConstraints];
        foreach (var type in services)
        {
            response.Capabilities.Add(new PluginCapability { Service = new PluginCapability.Types.Service { Type = type } });
        }

        response.Capabilities.Add(new PluginCapability { VolumeExpansion = new PluginCapability.Types.VolumeExpansion { Type = ExpansionType.Online } });
        return Task.FromResult(response);
    }

    public override async Task<ProbeResponse> Probe(ProbeRequest request, ServerCallContext context) =>
        new() { Ready = await readiness.IsReadyAsync(context.CancellationToken).ConfigureAwait(false) };
}
