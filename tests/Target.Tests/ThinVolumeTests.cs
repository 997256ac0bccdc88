using System.Buffers.Binary;
using Microsoft.Extensions.DependencyInjection;
using NovaStor.BlockEngine.Allocation;
using NovaStor.Initiator;
using NovaStor.Protocol;
using NovaStor.Target.Core;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// What a host sees of a thin volume (NSFEAT thin bit, NUSE that follows writes and deallocation),
/// and the per-namespace change bitmap that every write-like command marks.
/// </summary>
public sealed class ThinVolumeTests : IAsyncLifetime
{
    private const uint Nsid = 1;
    private const int BlockSize = 512;
    private RunningTarget _target = null!;
    private HostController _controller = null!;
    private HostQueue _queue = null!;

    public async Task InitializeAsync()
    {
        _target = await RunningTarget.StartAsync();
        _controller = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
        _queue = await _controller.ConnectIoQueueAsync(1).Within();
    }

    public async Task DisposeAsync()
    {
        await _controller.DisposeAsync();
        await _target.DisposeAsync();
    }

    private async Task<(ulong Nsze, ulong Ncap, ulong Nuse, byte Nsfeat)> IdentifyAsync()
    {
        byte[] ns = await _controller.IdentifyAsync(IdentifyCns.Namespace, Nsid).Within();
        return (BinaryPrimitives.ReadUInt64LittleEndian(ns), BinaryPrimitives.ReadUInt64LittleEndian(ns.AsSpan(8)),
            BinaryPrimitives.ReadUInt64LittleEndian(ns.AsSpan(16)), ns[24]);
    }

    private ChangeTracker Changes() => _target.Services.GetRequiredService<SubsystemRegistry>()
        .Find(RunningTarget.DefaultNqn)!.FindNamespace(Nsid)!.Changes;

    [Fact]
    public async Task Nuse_follows_what_is_written_and_deallocated()
    {
        var (nsze, ncap, nuse, nsfeat) = await IdentifyAsync();
        Assert.Equal(IdentifyNamespaceBits.NsfeatThinProvisioning, nsfeat & IdentifyNamespaceBits.NsfeatThinProvisioning);
        Assert.Equal(nsze, ncap);
        Assert.Equal(0UL, nuse); // a new thin volume holds nothing

        const ulong First = 1_000_000;
        const int Blocks = 2048; // 1 MiB, in 8 writes of 128 KiB
        for (int i = 0; i < 8; i++)
        {
            await _queue.WriteAsync(First + (ulong)(i * 256), Nvme.RandomBytes(256 * BlockSize, i));
        }

        (_, _, nuse, _) = await IdentifyAsync();
        // The filesystem allocates in its own blocks (4 KiB here), so the count is at least the data and barely more.
        Assert.InRange(nuse, (ulong)Blocks, (ulong)Blocks + 16);

        byte[] range = new byte[IoCommands.DsmRangeSize];
        BinaryPrimitives.WriteUInt32LittleEndian(range.AsSpan(4), Blocks);
        BinaryPrimitives.WriteUInt64LittleEndian(range.AsSpan(8), First);
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.DatasetManagement(Nsid, 1, deallocate: true), range));

        (_, _, nuse, _) = await IdentifyAsync();
        Assert.Equal(0UL, nuse);
    }

    [Fact]
    public async Task Every_write_like_command_marks_its_regions_changed()
    {
        ChangeTracker changes = Changes();
        _ = changes.SnapshotAndClear(); // whatever start-up did
        const int Region = DirtyBitmap.DefaultGranularity;
        const ulong BlocksPerRegion = Region / BlockSize;

        await _queue.WriteAsync(10 * BlocksPerRegion, Nvme.RandomBytes(BlockSize, 1));
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.WriteZeroes(Nsid, 20 * BlocksPerRegion, 1)));
        Nvme.AssertSuccess(await _queue.ExecuteAsync(NvmeCommands.WriteZeroes(Nsid, 30 * BlocksPerRegion - 1, 2, deallocate: true))); // straddles 29|30
        _ = await _queue.ReadAsync(40 * BlocksPerRegion, 8 * BlockSize); // reads change nothing

        ulong[] snapshot = changes.SnapshotAndClear();
        long[] dirty = Enumerable.Range(0, (int)changes.RegionCount).Where(r => DirtyBitmap.IsRegionSet(snapshot, r)).Select(r => (long)r).ToArray();
        Assert.Equal([10L, 20L, 29L, 30L], dirty);
        Assert.Equal(0, changes.DirtyRegionCount); // cleared by the snapshot

        await _queue.WriteAsync(50 * BlocksPerRegion, Nvme.RandomBytes(BlockSize, 2));
        Assert.True(changes.IsDirty(50L * Region), "a write after the snapshot is not in the next one");
        Assert.Equal(1, changes.DirtyRegionCount);
    }
}
