using Grpc.Core;
using NovaStor.ControlPlane.V1;
using NovaStor.Target.Core;

namespace NovaStor.Target.ControlPlane.Services;

/// <summary>novastor.v1.Controllers: the associations hosts hold now, discovery's included.</summary>
internal sealed class ControllersService(NodeState node, SubsystemRegistry registry) : Controllers.ControllersBase
{
    public override Task<ListControllersResponse> ListControllers(ListControllersRequest request, ServerCallContext context)
    {
        var subsystems = string.IsNullOrEmpty(request.SubsystemNqn)
            ? registry.Subsystems.Append(registry.Discovery)
            : [request.SubsystemNqn == Core.Subsystem.DiscoveryNqn ? registry.Discovery : node.Find(request.SubsystemNqn)];
        var response = new ListControllersResponse();
        response.Controllers.AddRange(subsystems.SelectMany(s => s.Controllers().Select(c => ProtoMapping.Controller(s, c))));
        return Task.FromResult(response);
    }

    public override Task<DisconnectControllerResponse> DisconnectController(DisconnectControllerRequest request, ServerCallContext context)
    {
        if (request.ControllerId > ushort.MaxValue)
        {
            throw NodeState.Refused(StatusCode.InvalidArgument, $"Controller id {request.ControllerId} is above 65535.");
        }

        node.Disconnect(request.SubsystemNqn, (ushort)request.ControllerId);
        return Task.FromResult(new DisconnectControllerResponse());
    }
}
