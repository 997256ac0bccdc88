using System.Numerics;
using Grpc.Core;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Target.ControlPlane.Services;

/// <summary>novastor.v1.Volumes over <see cref="NodeState"/>.</summary>
internal sealed class VolumesService(NodeState node) : Volumes.VolumesBase
{
    public override async Task<Volume> CreateVolume(CreateVolumeRequest request, ServerCallContext context)
    {
        var record = await node.CreateVolumeAsync(request.Name, request.SizeBytes, request.BlockSize, request.StripeWidth, context.CancellationToken).ConfigureAwait(false);
        return ProtoMapping.Volume(node, record);
    }

    public override async Task<DeleteVolumeResponse> DeleteVolume(DeleteVolumeRequest request, ServerCallContext context)
    {
        await node.DeleteVolumeAsync(request.Name, request.Force, context.CancellationToken).ConfigureAwait(false);
        return new DeleteVolumeResponse();
    }

    public override async Task<Volume> ResizeVolume(ResizeVolumeRequest request, ServerCallContext context)
    {
        var record = await node.ResizeVolumeAsync(request.Name, request.SizeBytes, context.CancellationToken).ConfigureAwait(false);
        return ProtoMapping.Volume(node, record);
    }

    public override Task<Volume> GetVolume(GetVolumeRequest request, ServerCallContext context) =>
        Task.FromResult(ProtoMapping.Volume(node, node.GetVolume(request.Name)));

    public override Task<ListVolumesResponse> ListVolumes(ListVolumesRequest request, ServerCallContext context)
    {
        var response = new ListVolumesResponse();
        response.Volumes.AddRange(node.ListVolumes().Select(v => ProtoMapping.Volume(node, v)));
        return Task.FromResult(response);
    }

    public override Task<ChangedRegions> GetChangedRegions(GetChangedRegionsRequest request, ServerCallContext context) =>
        ChangedRegionsAsync(request.Name, clear: false, context);

    public override Task<ChangedRegions> ClearChangedRegions(GetChangedRegionsRequest request, ServerCallContext context) =>
        ChangedRegionsAsync(request.Name, clear: true, context);

    private async Task<ChangedRegions> ChangedRegionsAsync(string name, bool clear, ServerCallContext context)
    {
        var (words, regions, regionBytes, complete) = await node.ChangedRegionsAsync(name, clear, context.CancellationToken).ConfigureAwait(false);
        return new ChangedRegions
        {
            RegionBytes = (uint)regionBytes,
            RegionCount = (ulong)regions,
            Bitmap = ProtoMapping.Bitmap(words, regions),
            ChangedRegionCount = (ulong)words.Sum(w => (long)BitOperations.PopCount(w)),
            Complete = complete,
        };
    }

    public override Task<Capacity> GetCapacity(GetCapacityRequest request, ServerCallContext context)
    {
        var (available, total, provisioned, largest) = node.Capacity();
        return Task.FromResult(new Capacity { AvailableBytes = available, TotalBytes = total, ProvisionedBytes = provisioned, MaximumVolumeBytes = largest });
    }
}
