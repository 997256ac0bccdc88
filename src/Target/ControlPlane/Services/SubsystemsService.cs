using Grpc.Core;
using NovaStor.ControlPlane.V1;
using NovaStor.Target.Core;

namespace NovaStor.Target.ControlPlane.Services;

/// <summary>novastor.v1.Subsystems over <see cref="NodeState"/>.</summary>
internal sealed class SubsystemsService(NodeState node, SubsystemRegistry registry) : Subsystems.SubsystemsBase
{
    public override async Task<NovaStor.ControlPlane.V1.Subsystem> CreateSubsystem(CreateSubsystemRequest request, ServerCallContext context) =>
        ProtoMapping.Subsystem(await node.CreateSubsystemAsync(request.Nqn, request.SerialNumber, request.ModelNumber, request.AllowAnyHost, request.AllowedHosts,
            context.CancellationToken).ConfigureAwait(false));

    public override async Task<DeleteSubsystemResponse> DeleteSubsystem(DeleteSubsystemRequest request, ServerCallContext context)
    {
        await node.DeleteSubsystemAsync(request.Nqn, request.Force, context.CancellationToken).ConfigureAwait(false);
        return new DeleteSubsystemResponse();
    }

    public override Task<NovaStor.ControlPlane.V1.Subsystem> GetSubsystem(GetSubsystemRequest request, ServerCallContext context) =>
        Task.FromResult(ProtoMapping.Subsystem(node.Find(request.Nqn)));

    public override Task<ListSubsystemsResponse> ListSubsystems(ListSubsystemsRequest request, ServerCallContext context)
    {
        var response = new ListSubsystemsResponse();
        response.Subsystems.AddRange(registry.Subsystems.Select(ProtoMapping.Subsystem));
        return Task.FromResult(response);
    }

    public override async Task<NovaStor.ControlPlane.V1.Subsystem> AddNamespace(AddNamespaceRequest request, ServerCallContext context) =>
        ProtoMapping.Subsystem(await node.AddNamespaceAsync(request.SubsystemNqn, request.Volume, request.NamespaceId, request.AnaGroup, context.CancellationToken)
            .ConfigureAwait(false));

    public override async Task<NovaStor.ControlPlane.V1.Subsystem> RemoveNamespace(RemoveNamespaceRequest request, ServerCallContext context) =>
        ProtoMapping.Subsystem(await node.RemoveNamespaceAsync(request.SubsystemNqn, request.NamespaceId, context.CancellationToken).ConfigureAwait(false));

    public override async Task<NovaStor.ControlPlane.V1.Subsystem> AddHost(HostRequest request, ServerCallContext context)
    {
        HostAuthenticationRequest? authentication = null;
        if (request.DhchapSecret.Length > 0 || request.DhchapControllerSecret.Length > 0 || request.DhchapHash.Length > 0 || request.DhchapGroup.Length > 0)
        {
            authentication = new HostAuthenticationRequest(request.DhchapSecret, request.DhchapControllerSecret, request.DhchapHash, request.DhchapGroup);
        }

        return ProtoMapping.Subsystem(await node.AddHostAsync(request.SubsystemNqn, request.HostNqn, authentication, context.CancellationToken).ConfigureAwait(false));
    }

    public override async Task<NovaStor.ControlPlane.V1.Subsystem> RemoveHost(HostRequest request, ServerCallContext context) =>
        ProtoMapping.Subsystem(await node.RemoveHostAsync(request.SubsystemNqn, request.HostNqn, request.Disconnect, context.CancellationToken).ConfigureAwait(false));

    public override async Task<NovaStor.ControlPlane.V1.Subsystem> AddListener(SubsystemListenerRequest request, ServerCallContext context) =>
        ProtoMapping.Subsystem(await node.AddSubsystemListenerAsync(request.SubsystemNqn, request.Address, request.Port, context.CancellationToken).ConfigureAwait(false));

    public override async Task<NovaStor.ControlPlane.V1.Subsystem> RemoveListener(SubsystemListenerRequest request, ServerCallContext context) =>
        ProtoMapping.Subsystem(await node.RemoveSubsystemListenerAsync(request.SubsystemNqn, request.Address, request.Port, context.CancellationToken).ConfigureAwait(false));

    public override async Task<NovaStor.ControlPlane.V1.Subsystem> SetAllowAnyHost(SetAllowAnyHostRequest request, ServerCallContext context) =>
        ProtoMapping.Subsystem(await node.SetAllowAnyHostAsync(request.SubsystemNqn, request.AllowAnyHost, context.CancellationToken).ConfigureAwait(false));
}
