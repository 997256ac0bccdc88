using System.Buffers.Binary;
using System.Text;
using NovaStor.Initiator;
using NovaStor.Protocol;
using Xunit;

namespace NovaStor.Conformance.KernelTarget;

/// <summary>
/// The only place these tests touch the managed initiator's API (HostController, HostQueue,
/// NvmeCommands): the initiator is being rewritten, and adapting these few methods should be all
/// it takes to follow it.
/// </summary>
internal static class KernelTargetIo
{
    public const string DiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

    // Generous: the target runs under software emulation (thousands of IOPS, slow bursts).
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    public static async Task<HostController> ConnectAsync(KernelTargetGuest guest, HostIdentity host, string? nqn = null, HostQueueOptions? options = null, uint keepAliveMs = 0) =>
        await HostController.ConnectAsync(guest.EndPoint, nqn ?? guest.SubsystemNqn, host, keepAliveMs, options).WaitAsync(Limit);

    /// <summary>
    /// An I/O queue that carries writes in the capsule up to what IOCCSZ allows, as the Linux host
    /// does. Required, not an optimisation: nvmet-tcp (6.1) never sends the R2T for a write whose
    /// length is within its inline data size (16 KiB) but that arrives without in-capsule data,
    /// so such a write hangs (see the test Write_within_the_inline_size_without_in_capsule_data_gets_no_R2T).
    /// </summary>
    public static async Task<HostQueue> ConnectIoQueueAsync(HostController controller, ushort queueId = 1)
    {
        var options = controller.Options with { InCapsuleDataLimit = await InCapsuleLimitAsync(controller) };
        return await ConnectIoQueueAsync(controller, options, queueId);
    }

    public static async Task<HostQueue> ConnectIoQueueAsync(HostController controller, HostQueueOptions options, ushort queueId = 1) =>
        await controller.ConnectIoQueueAsync(queueId, 128, options).WaitAsync(Limit);

    /// <summary>IOCCSZ * 16 - 64: the in-capsule data an I/O command may carry.</summary>
    public static async Task<int> InCapsuleLimitAsync(HostController controller)
    {
        var id = await controller.IdentifyAsync(0x01);
        return (int)(BinaryPrimitives.ReadUInt32LittleEndian(id.AsSpan(1792)) * 16) - 64;
    }

    public static Task<CompletionQueueEntry> ExecuteAsync(this HostQueue queue, SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut = default, Memory<byte> dataIn = default) =>
        queue.SubmitAsync(command, dataOut, dataIn, CancellationToken.None).WaitAsync(Limit);

    public static Task<byte[]> IdentifyAsync(this HostController controller, byte cns, uint namespaceId = 0) =>
        controller.IdentifyAsync(cns, namespaceId).WaitAsync(Limit);

    public static async Task<byte[]> LogPageAsync(this HostController controller, byte logId, int length, ulong offset = 0)
    {
        var data = new byte[length];
        Check($"Get Log Page {logId:X2}h", await controller.Admin.ExecuteAsync(NvmeCommands.GetLogPage(logId, length, offset), dataIn: data));
        return data;
    }

    public static async Task<uint> PropertyGetAsync(this HostController controller, uint offset)
    {
        var completion = await controller.Admin.ExecuteAsync(NvmeCommands.PropertyGet(offset, false));
        Check($"Property Get {offset:X2}h", completion);
        return completion.Dw0;
    }

    public static async Task KeepAliveAsync(this HostController controller) =>
        Check("Keep Alive", await controller.Admin.ExecuteAsync(NvmeCommands.KeepAlive()));

    public static async Task WriteAsync(this HostQueue queue, KernelTargetNamespace ns, ulong firstBlock, byte[] data) =>
        Check($"Write ns {ns.Id} LBA {firstBlock} ({data.Length} B)", await queue.ExecuteAsync(NvmeCommands.Write(ns.Id, firstBlock, data.Length / ns.BlockSize), data));

    public static async Task<byte[]> ReadAsync(this HostQueue queue, KernelTargetNamespace ns, ulong firstBlock, int length)
    {
        var data = new byte[length];
        Check($"Read ns {ns.Id} LBA {firstBlock} ({length} B)", await queue.ExecuteAsync(NvmeCommands.Read(ns.Id, firstBlock, length / ns.BlockSize), dataIn: data));
        return data;
    }

    public static Task<CompletionQueueEntry> TryReadAsync(this HostQueue queue, KernelTargetNamespace ns, ulong firstBlock, int blocks) =>
        queue.ExecuteAsync(NvmeCommands.Read(ns.Id, firstBlock, blocks), dataIn: new byte[blocks * ns.BlockSize]);

    public static Task<CompletionQueueEntry> FlushAsync(this HostQueue queue, KernelTargetNamespace ns) =>
        queue.ExecuteAsync(NvmeCommands.Flush(ns.Id));

    public static Task<CompletionQueueEntry> WriteZeroesAsync(this HostQueue queue, KernelTargetNamespace ns, ulong firstBlock, int blocks) =>
        queue.ExecuteAsync(NvmeCommands.WriteZeroes(ns.Id, firstBlock, blocks));

    /// <summary>Dataset Management, deallocate, one range (context attributes 0, NLB 1-based, SLBA).</summary>
    public static Task<CompletionQueueEntry> DeallocateAsync(this HostQueue queue, KernelTargetNamespace ns, ulong firstBlock, int blocks)
    {
        var range = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(range.AsSpan(4), (uint)blocks);
        BinaryPrimitives.WriteUInt64LittleEndian(range.AsSpan(8), firstBlock);
        return queue.ExecuteAsync(NvmeCommands.DatasetManagement(ns.Id, 1, deallocate: true), range);
    }

    public static void Check(string operation, CompletionQueueEntry completion) => HostController.Check(operation, completion);

    public static void AssertSuccess(string operation, CompletionQueueEntry completion) =>
        Assert.True(completion.Status.IsSuccess, $"{operation}: the kernel target answered {completion.Status}");

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>An ASCII field of identify or log data, without the space/NUL padding.</summary>
    public static string Text(byte[] data, int offset, int length) =>
        Encoding.ASCII.GetString(data, offset, length).TrimEnd(' ', '\0');

    /// <summary>Where two buffers first differ, for an assertion message that does not dump megabytes.</summary>
    public static void AssertSameBytes(byte[] expected, byte[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int at = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(at == expected.Length, $"{what}: first difference at byte {at} of {expected.Length}");
    }
}
