using System.Buffers;
using System.Runtime.InteropServices;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// Writes leave from the caller's memory (in-capsule or as H2CData answering R2T, with and
/// without digests, split at MDTS) on both socket paths, and the bytes read back are the bytes
/// written; a slow reader on the wire (short sends) changes nothing but the time it takes.
/// </summary>
public sealed class DataPathTests(SharedTarget shared) : IClassFixture<SharedTarget>
{
    public static TheoryData<HostQueueTransport, bool, int, int, int> Writes()
    {
        var data = new TheoryData<HostQueueTransport, bool, int, int, int>();
        int lane = 0;
        foreach (var transport in new[] { HostQueueTransport.Automatic, HostQueueTransport.Portable })
        {
            foreach (bool digests in new[] { false, true })
            {
                data.Add(transport, digests, 4096, int.MaxValue, lane++); // in-capsule
                data.Add(transport, digests, 4096, 0, lane++);            // by R2T
                data.Add(transport, digests, 128 * 1024, int.MaxValue, lane++);
                data.Add(transport, digests, 1024 * 1024, int.MaxValue, lane++); // split at MDTS
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Writes))]
    public async Task Writes_from_caller_memory_read_back_whole(HostQueueTransport transport, bool digests, int size, int inCapsuleLimit, int lane)
    {
        var options = new NvmeConnectionOptions { Transport = transport, HeaderDigest = digests, DataDigest = digests, InCapsuleDataLimit = inCapsuleLimit, IoQueues = 2 };
        await using var controller = await Support.ConnectAsync(shared.Target, options);
        var ns = controller.Namespace(1);
        ulong first = 400_000 + ((ulong)lane * 4096);

        // Array memory and native memory (no array behind it: the path must not assume one).
        var array = Support.RandomBytes(size, lane);
        using var native = new NativeBuffer(size);
        Support.RandomBytes(size, lane + 1000).CopyTo(native.Memory.Span);
        Support.AssertSuccess(await ns.WriteAsync(first, array).Within(), "Write from an array");
        Support.AssertSuccess(await ns.WriteAsync(first + (ulong)(size / ns.BlockSize), native.Memory).Within(), "Write from native memory");

        var back = new byte[2 * size];
        Support.AssertSuccess(await ns.ReadAsync(first, back).Within(), "Read back");
        Assert.True(back.AsSpan(0, size).SequenceEqual(array), "the array write reads back different");
        Assert.True(back.AsSpan(size).SequenceEqual(native.Memory.Span), "the native-memory write reads back different");
        Assert.Null(controller.LastConnectionFailure);
    }

    [Theory]
    [InlineData(HostQueueTransport.Automatic, false, 0)]
    [InlineData(HostQueueTransport.Automatic, true, 1)]
    [InlineData(HostQueueTransport.Portable, false, 2)]
    [InlineData(HostQueueTransport.Portable, true, 3)]
    public async Task With_sq_flow_control_disabled_reads_complete_with_their_data(HostQueueTransport transport, bool digests, int lane)
    {
        // The target then ends each successful read with its C2HData (SUCCESS flag) and sends no
        // CapsuleResp: a host that waited for one would never see these reads (or the Identify
        // data of the connect, on the admin queue) complete.
        var options = new NvmeConnectionOptions { Transport = transport, HeaderDigest = digests, DataDigest = digests, DisableSqFlowControl = true };
        await using var controller = await Support.ConnectAsync(shared.Target, options);
        var ns = controller.Namespace(1);
        Assert.Equal(RunningTarget.DefaultNqn, controller.Info.SubsystemNqn);
        ulong first = 1_200_000 + ((ulong)lane * 4096);
        var data = Support.RandomBytes(1024 * 1024, 300 + lane);
        Support.AssertSuccess(await ns.WriteAsync(first, data).Within(), "Write");

        var reads = Enumerable.Range(0, 32).Select(i => new byte[i % 2 == 0 ? 4096 : 65536]).ToArray();
        var pending = reads.Select((buffer, i) => ns.ReadAsync(first + ((ulong)i * 8), buffer).AsTask()).ToArray();
        foreach (var result in await Task.WhenAll(pending).Within())
        {
            Support.AssertSuccess(result, "Read");
        }

        for (int i = 0; i < reads.Length; i++)
        {
            int at = i * 8 * ns.BlockSize;
            Assert.True(reads[i].AsSpan().SequenceEqual(data.AsSpan(at, reads[i].Length)), $"read {i} came back different");
        }

        var whole = new byte[data.Length];
        Support.AssertSuccess(await ns.ReadAsync(first, whole).Within(), "Read of 1 MiB (split at MDTS)");
        Assert.True(whole.AsSpan().SequenceEqual(data), "the 1 MiB read came back different");
        var past = await ns.ReadAsync(ns.BlockCount, new byte[ns.BlockSize]).Within();
        Assert.False(past.IsSuccess, "a read past the end succeeded");
        Assert.Null(controller.LastConnectionFailure);
    }

    [Theory]
    [InlineData(HostQueueTransport.Automatic, false, false)]
    [InlineData(HostQueueTransport.Automatic, true, true)]
    [InlineData(HostQueueTransport.Portable, false, true)]
    public async Task Writes_through_a_slow_reader_arrive_whole_and_in_order(HostQueueTransport transport, bool inlineCompletions, bool digests)
    {
        await using var proxy = new ThrottlingProxy(shared.Target.EndPoint);
        // A tiny socket send buffer and a slow reader behind it: 128 KiB H2CData never fits at once.
        var options = new NvmeConnectionOptions { Transport = transport, InlineCompletions = inlineCompletions, DataDigest = digests, HeaderDigest = digests, KeepAliveTimeout = TimeSpan.Zero, SocketSendBufferBytes = 8192 };
        await using var controller = await NvmeController.ConnectAsync(proxy.EndPoint, RunningTarget.DefaultNqn, options).Within();
        var ns = controller.Namespace(1);
        ulong baseBlock = 600_000 + (ulong)(transport == HostQueueTransport.Portable ? 40_000 : inlineCompletions ? 20_000 : 0);

        // Large writes (H2CData that cannot fit the socket buffers) and small in-capsule ones
        // from other threads at the same time, so that sends come back short from every side.
        var large = Enumerable.Range(0, 4).Select(i => Support.RandomBytes(1024 * 1024, 100 + i)).ToArray();
        var small = Enumerable.Range(0, 16).Select(i => Support.RandomBytes(4096, 200 + i)).ToArray();
        var writes = new List<Task<NvmeResult>>();
        for (int i = 0; i < large.Length; i++)
        {
            int index = i;
            writes.Add(Task.Run(() => ns.WriteAsync(baseBlock + ((ulong)index * 2048), large[index]).AsTask()));
        }

        for (int i = 0; i < small.Length; i++)
        {
            int index = i;
            writes.Add(Task.Run(() => ns.WriteAsync(baseBlock + 8192 + ((ulong)index * 8), small[index]).AsTask()));
        }

        foreach (var result in await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(60)))
        {
            Support.AssertSuccess(result, "Write through the slow reader");
        }

        if (transport == HostQueueTransport.Automatic && OperatingSystem.IsLinux())
        {
            long shortSends = controller.Paths[0].Current!.IoQueues.Sum(q => q.Transport.ShortSends);
            Assert.True(shortSends > 0, "no send came back short: the test did not exercise what it is for");
        }

        // Read back on a direct connection: what reached the target is what was written.
        await using var direct = await Support.ConnectAsync(shared.Target);
        var check = direct.Namespace(1);
        var back = new byte[1024 * 1024];
        for (int i = 0; i < large.Length; i++)
        {
            Support.AssertSuccess(await check.ReadAsync(baseBlock + ((ulong)i * 2048), back).Within(), "Read back");
            Assert.True(back.AsSpan().SequenceEqual(large[i]), $"1 MiB write {i} reads back different");
        }

        var smallBack = new byte[4096];
        for (int i = 0; i < small.Length; i++)
        {
            Support.AssertSuccess(await check.ReadAsync(baseBlock + 8192 + ((ulong)i * 8), smallBack).Within(), "Read back");
            Assert.True(smallBack.AsSpan().SequenceEqual(small[i]), $"4 KiB write {i} reads back different");
        }

        Assert.Null(controller.LastConnectionFailure);
    }

    /// <summary>Native memory behind a <see cref="Memory{T}"/>: the caller's memory need not be an array.</summary>
    private sealed unsafe class NativeBuffer(int length) : MemoryManager<byte>
    {
        private readonly byte* _pointer = (byte*)NativeMemory.AlignedAlloc((nuint)length, 4096);
        private bool _freed;

        public override Span<byte> GetSpan() => new(_pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
            if (!_freed)
            {
                _freed = true;
                NativeMemory.AlignedFree(_pointer);
            }
        }
    }
}
