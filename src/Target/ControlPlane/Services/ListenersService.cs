using Grpc.Core;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Target.ControlPlane.Services;

/// <summary>novastor.v1.Listeners over <see cref="NodeState"/>.</summary>
internal sealed class ListenersService(NodeState node) : Listeners.ListenersBase
{
    public override async Task<Listener> AddListener(AddListenerRequest request, ServerCallContext context) =>
        ProtoMapping.Listener(await node.AddListenerAsync(request.Address, request.Port, context.CancellationToken).ConfigureAwait(false));

    public override async Task<RemoveListenerResponse> RemoveListener(RemoveListenerRequest request, ServerCallContext context)
    {
        await node.RemoveListenerAsync(request.PortId, context.CancellationToken).ConfigureAwait(false);
        return new RemoveListenerResponse();
    }

    public override Task<ListListenersResponse> ListListeners(ListListenersRequest request, ServerCallContext context)
    {
        var response = new ListListenersResponse();
        response.Listeners.AddRange(node.ListListeners().Select(ProtoMapping.Listener));
        return Task.FromResult(response);
    }

    public override async Task<Listener> SetAnaState(SetAnaStateRequest request, ServerCallContext context) =>
        ProtoMapping.Listener(await node.SetAnaStateAsync(request.PortId, request.Group, ProtoMapping.AnaState(request.State), context.CancellationToken)
            .ConfigureAwait(false));
}
