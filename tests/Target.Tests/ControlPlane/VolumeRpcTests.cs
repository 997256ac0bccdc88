using Grpc.Core;
using NovaStor.ControlPlane.V1;
using Xunit;
using static NovaStor.Target.Tests.ControlPlane.ControlPlaneTarget;

namespace NovaStor.Target.Tests.ControlPlane;

public sealed class VolumeRpcTests : IAsyncLifetime
{
    private ControlPlaneTarget _node = null!;

    public async Task InitializeAsync() => _node = await StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task A_volume_is_created_listed_grown_and_deleted()
    {
        var created = await _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "vol-a", SizeBytes = 64 << 20, BlockSize = 4096 }, deadline: Deadline);
        Assert.Equal("vol-a", created.Name);
        Assert.Equal(64UL << 20, created.SizeBytes);
        Assert.Equal(4096u, created.BlockSize);
        Assert.Equal(0UL, created.AllocatedBytes); // thin
        Assert.Equal(["data"], created.Drives);
        Assert.Empty(created.Exports);
        Assert.True(Guid.TryParse(created.Id, out _));

        var listed = await _node.Volumes.ListVolumesAsync(new ListVolumesRequest(), deadline: Deadline);
        Assert.Contains(listed.Volumes, v => v.Name == "vol-a");

        var grown = await _node.Volumes.ResizeVolumeAsync(new ResizeVolumeRequest { Name = "vol-a", SizeBytes = 128 << 20 }, deadline: Deadline);
        Assert.Equal(128UL << 20, grown.SizeBytes);
        Assert.Equal(128L << 20, new FileInfo(Path.Combine(_node.Target.DataDirectory, "vol-a.img")).Length);

        await _node.Volumes.DeleteVolumeAsync(new DeleteVolumeRequest { Name = "vol-a" }, deadline: Deadline);
        Assert.False(File.Exists(Path.Combine(_node.Target.DataDirectory, "vol-a.img")));
        await RefusedAsync(StatusCode.NotFound, "vol-a", () => _node.Volumes.GetVolumeAsync(new GetVolumeRequest { Name = "vol-a" }, deadline: Deadline).ResponseAsync);
    }

    [Fact]
    public async Task Bad_volume_requests_say_what_to_fix_and_change_nothing()
    {
        await _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "vol-b", SizeBytes = 16 << 20 }, deadline: Deadline);
        await RefusedAsync(StatusCode.AlreadyExists, "exists",
            () => _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "vol-b", SizeBytes = 32 << 20 }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "volume name",
            () => _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "../escape", SizeBytes = 16 << 20 }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "multiple of the block size",
            () => _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "odd", SizeBytes = 1000 }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "512 or 4096",
            () => _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "odd", SizeBytes = 1 << 20, BlockSize = 1024 }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.InvalidArgument, "drive",
            () => _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "wide", SizeBytes = 16 << 20, StripeWidth = 3 }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.FailedPrecondition, "only grow",
            () => _node.Volumes.ResizeVolumeAsync(new ResizeVolumeRequest { Name = "vol-b", SizeBytes = 8 << 20 }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.NotFound, "no volume",
            () => _node.Volumes.ResizeVolumeAsync(new ResizeVolumeRequest { Name = "missing", SizeBytes = 8 << 20 }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.NotFound, "no volume",
            () => _node.Volumes.DeleteVolumeAsync(new DeleteVolumeRequest { Name = "missing" }, deadline: Deadline).ResponseAsync);

        var volume = await _node.Volumes.GetVolumeAsync(new GetVolumeRequest { Name = "vol-b" }, deadline: Deadline);
        Assert.Equal(16UL << 20, volume.SizeBytes);
        Assert.DoesNotContain((await _node.Volumes.ListVolumesAsync(new ListVolumesRequest(), deadline: Deadline)).Volumes, v => v.Name is "odd" or "wide");
    }

    [Fact]
    public async Task Capacity_reports_the_drives_and_what_is_provisioned()
    {
        await _node.Volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = "vol-c", SizeBytes = 32 << 20 }, deadline: Deadline);
        var capacity = await _node.Volumes.GetCapacityAsync(new GetCapacityRequest(), deadline: Deadline);
        Assert.True(capacity.TotalBytes > 0);
        Assert.InRange(capacity.AvailableBytes, 1UL, capacity.TotalBytes);
        // The embedded default's 1 GiB volume and this one, at least.
        Assert.True(capacity.ProvisionedBytes >= (1UL << 30) + (32UL << 20));
        Assert.Equal(capacity.AvailableBytes, capacity.MaximumVolumeBytes);
    }
}
