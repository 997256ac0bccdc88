using Xunit;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>One target shared by the tests of a class (each test uses its own block ranges).</summary>
public sealed class SharedTarget : IAsyncLifetime
{
    public RunningTarget Target { get; private set; } = null!;

    public async Task InitializeAsync() => Target = await RunningTarget.StartAsync();

    public async Task DisposeAsync() => await Target.DisposeAsync();
}

/// <summary>Every wait in these tests is bounded.</summary>
internal static class Bounded
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Limit);

    public static Task<T> Within<T>(this Task<T> task, TimeSpan limit) => task.WaitAsync(limit);

    public static Task Within(this Task task) => task.WaitAsync(Limit);

    public static Task Within(this Task task, TimeSpan limit) => task.WaitAsync(limit);
}

/// <summary>Small helpers over the managed host: I/O in blocks, status checks, raw Connect.</summary>
internal static class Nvme
{
    public const string DiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static Task<CompletionQueueEntry> ExecuteAsync(this HostQueue queue, SubmissionQueueEntry command, ReadOnlyMemory<byte> dataOut = default, Memory<byte> dataIn = default) =>
        queue.SubmitAsync(command, dataOut, dataIn, CancellationToken.None).Within();

    public static async Task WriteAsync(this HostQueue queue, ulong firstBlock, byte[] data, uint namespaceId = 1, int blockSize = 512, bool forceUnitAccess = false) =>
        HostController.Check("Write", await queue.ExecuteAsync(NvmeCommands.Write(namespaceId, firstBlock, data.Length / blockSize, forceUnitAccess), data));

    public static async Task<byte[]> ReadAsync(this HostQueue queue, ulong firstBlock, int length, uint namespaceId = 1, int blockSize = 512)
    {
        var data = new byte[length];
        HostController.Check("Read", await queue.ExecuteAsync(NvmeCommands.Read(namespaceId, firstBlock, length / blockSize), dataIn: data));
        return data;
    }

    public static async Task<CompletionQueueEntry> AdminAsync(this HostController controller, SubmissionQueueEntry command, int dataInLength = 0)
    {
        var data = new byte[dataInLength];
        return await controller.Admin.ExecuteAsync(command, dataIn: data);
    }

    public static async Task<byte[]> LogPageAsync(this HostController controller, byte logId, int length, ulong offset = 0, byte specific = 0)
    {
        var data = new byte[length];
        HostController.Check($"Get Log Page {logId:X2}h", await controller.Admin.ExecuteAsync(NvmeCommands.GetLogPage(logId, length, offset, specific), dataIn: data));
        return data;
    }

    public static async Task<uint> PropertyGetAsync(this HostController controller, uint offset)
    {
        var completion = await controller.Admin.ExecuteAsync(NvmeCommands.PropertyGet(offset, false));
        HostController.Check($"Property Get {offset:X2}h", completion);
        return completion.Dw0;
    }

    /// <summary>Asserts an error status by its numbers (not by this project's constants), and DNR when asked.</summary>
    public static void AssertStatus(CompletionQueueEntry completion, int codeType, int code, bool doNotRetry = true)
    {
        Assert.False(completion.Status.IsSuccess, $"expected SCT {codeType:X} SC {code:X2}h, got success");
        Assert.True((int)completion.Status.CodeType == codeType && completion.Status.Code == code,
            $"expected SCT {codeType:X} SC {code:X2}h, got {completion.Status}");
        if (doNotRetry)
        {
            Assert.True(completion.Status.DoNotRetry, $"DNR expected on {completion.Status}");
        }
    }

    public static void AssertSuccess(CompletionQueueEntry completion) =>
        Assert.True(completion.Status.IsSuccess, $"expected success, got {completion.Status}");

    public static byte[] ConnectBytes(HostIdentity host, ushort controllerId, string subsystemNqn)
    {
        var data = new byte[Protocol.ConnectData.Length];
        new ConnectData(host.HostId, controllerId, subsystemNqn, host.HostNqn).WriteTo(data);
        return data;
    }

    /// <summary>Connect on a fresh queue with exactly these parameters; returns the completion as it is.</summary>
    public static Task<CompletionQueueEntry> ConnectAsync(this HostQueue queue, ushort queueId, ushort queueSizeZeroBased, byte[] connectData, uint keepAliveMs = 0) =>
        queue.ExecuteAsync(NvmeCommands.Connect(queueId, queueSizeZeroBased, keepAliveMs), connectData);

    /// <summary>A Capsule Command PDU (header digest and in-capsule data as asked), as a host sends it.</summary>
    public static byte[] CapsulePdu(SubmissionQueueEntry command, ReadOnlySpan<byte> inCapsuleData = default, bool headerDigest = false, bool dataDigest = false)
    {
        command.Flags = SubmissionQueueEntry.SglFlags;
        command.Sgl = inCapsuleData.IsEmpty
            ? new SglDescriptor(0, command.Sgl.Length, SglDescriptor.TransportDataBlock)
            : new SglDescriptor(0, (uint)inCapsuleData.Length, SglDescriptor.DataBlockOffset);
        var pdu = new byte[PduWriter.MaxHeaderWithDigest + inCapsuleData.Length + PduSizes.Digest];
        int length = PduWriter.WriteCapsuleCommandHeader(pdu, command, inCapsuleData.Length, headerDigest, dataDigest);
        inCapsuleData.CopyTo(pdu.AsSpan(length));
        length += inCapsuleData.Length;
        if (!inCapsuleData.IsEmpty && dataDigest)
        {
            PduWriter.WriteDataDigest(pdu.AsSpan(length), inCapsuleData);
            length += PduSizes.Digest;
        }

        return pdu[..length];
    }

    /// <summary>The termination request that must be the whole of <paramref name="received"/>.</summary>
    public static TerminationRequest AssertTermination(byte[] received)
    {
        Assert.True(received.Length >= PduSizes.TerminationRequestHeader, $"expected a C2HTermReq, received {received.Length} bytes");
        Assert.Equal((byte)PduType.ControllerToHostTerminationRequest, received[0]);
        Assert.Equal(PduSizes.TerminationRequestHeader, received[2]);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(received.AsSpan(4));
        Assert.InRange(length, (uint)PduSizes.TerminationRequestHeader, (uint)PduSizes.TerminationRequestMax);
        Assert.Equal((int)length, received.Length);
        return TerminationRequest.Read(received);
    }

    /// <summary>Why <paramref name="queue"/>'s connection ended, once it has (bounded wait).</summary>
    public static async Task<Exception> ClosedWithAsync(HostQueue queue, TimeSpan? limit = null)
    {
        var failure = await queue.WaitForCloseAsync().Within(limit ?? Bounded.Limit);
        Assert.NotNull(failure);
        return failure;
    }

    /// <summary>The C2HTermReq that ended <paramref name="queue"/>: its FES and FEI, checked.</summary>
    public static async Task AssertTerminatedAsync(HostQueue queue, FatalErrorStatus status, uint? information = null)
    {
        var failure = await ClosedWithAsync(queue);
        var transport = Assert.IsType<NvmeTransportException>(failure);
        Assert.True(transport.Status == status, $"expected a C2HTermReq with FES {status}, the connection ended with: {transport.Message}");
        if (information is { } fei)
        {
            Assert.Equal(fei, transport.Information);
        }
    }
}

/// <summary>A bare TCP connection to the target, for bytes the managed host would never send.</summary>
internal sealed class RawConnection : IAsyncDisposable
{
    private readonly Socket _socket;

    private RawConnection(Socket socket) => _socket = socket;

    /// <summary>The completion of the I/O queue's Connect, where <see cref="OpenIoQueueAsync"/> opened it.</summary>
    public CompletionQueueEntry ConnectCompletion { get; private set; }

    public static async Task<RawConnection> OpenAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint).Within();
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new RawConnection(socket);
    }

    public static byte[] InitializeRequest(ushort formatVersion = 0, DigestOptions digests = DigestOptions.None)
    {
        var pdu = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionRequest(formatVersion, 0, digests, 0).WriteTo(pdu);
        return pdu;
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes) => await _socket.SendAsync(bytes, SocketFlags.None).AsTask().Within();

    /// <summary>ICReq, then the 128-byte ICResp.</summary>
    public async Task<InitializeConnectionResponse> InitializeAsync(DigestOptions digests = DigestOptions.None)
    {
        await SendAsync(InitializeRequest(0, digests));
        var response = await ReadExactlyAsync(PduSizes.InitializeConnection);
        Assert.Equal((byte)PduType.InitializeConnectionResponse, response[0]);
        Assert.Equal(0, response[1]);                                                        // no flags
        Assert.Equal(PduSizes.InitializeConnection, response[2]);                            // HLEN 128
        Assert.Equal(0, response[3]);                                                        // PDO 0
        Assert.Equal((uint)PduSizes.InitializeConnection, BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(4))); // PLEN 128
        return InitializeConnectionResponse.Read(response);
    }

    public async Task<byte[]> ReadExactlyAsync(int length)
    {
        var buffer = new byte[length];
        int received = 0;
        while (received < length)
        {
            int n = await _socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None).AsTask().Within();
            if (n == 0)
            {
                throw new IOException($"connection closed after {received} of {length} bytes");
            }

            received += n;
        }

        return buffer;
    }

    /// <summary>Everything the target sends until it closes the connection; fails if it stays open past the limit.</summary>
    public async Task<byte[]> ReadUntilClosedAsync(TimeSpan? limit = null)
    {
        using var deadline = new CancellationTokenSource(limit ?? TimeSpan.FromSeconds(10));
        var received = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            int n;
            try
            {
                n = await _socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                break;
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the target kept the connection open; received {received.Length} bytes");
                throw;
            }

            if (n == 0)
            {
                break;
            }

            received.Write(buffer, 0, n);
        }

        return received.ToArray();
    }

    /// <summary>
    /// A new controller of <paramref name="target"/>'s default subsystem, and its I/O queue 1 on a raw
    /// connection (ICReq and Connect done by hand, with the digests asked for).
    /// </summary>
    /// <param name="submissionQueueSize">SQSIZE of the Connect, 0-based (127: 128 entries).</param>
    public static async Task<(HostController Controller, RawConnection Raw)> OpenIoQueueAsync(RunningTarget target, bool headerDigest = false, bool dataDigest = false,
        ushort submissionQueueSize = 127, byte connectAttributes = 0)
    {
        var host = HostIdentity.Create();
        var controller = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, host).Within();
        RawConnection? raw = null;
        try
        {
            raw = await OpenAsync(target.EndPoint);
            var digests = (headerDigest ? DigestOptions.Header : DigestOptions.None) | (dataDigest ? DigestOptions.Data : DigestOptions.None);
            var response = await raw.InitializeAsync(digests);
            Assert.Equal(digests, response.Digests);
            var connect = NvmeCommands.Connect(1, submissionQueueSize, 0, connectAttributes) with { CommandId = 1 };
            await raw.SendAsync(Nvme.CapsulePdu(connect, Nvme.ConnectBytes(host, controller.ControllerId, RunningTarget.DefaultNqn), headerDigest, dataDigest));
            var capsule = await raw.ReadExactlyAsync(PduSizes.CapsuleResponse + (headerDigest ? PduSizes.Digest : 0));
            Assert.Equal((byte)PduType.CapsuleResponse, capsule[0]);
            raw.ConnectCompletion = CompletionQueueEntry.Read(capsule.AsSpan(PduSizes.CommonHeader));
            Nvme.AssertSuccess(raw.ConnectCompletion);
            return (controller, raw);
        }
        catch
        {
            if (raw is not null)
            {
                await raw.DisposeAsync();
            }

            await controller.DisposeAsync();
            throw;
        }
    }

    /// <summary>Makes this host a slow reader: the kernel holds at most about this much for it.</summary>
    public void ShrinkReceiveBuffer(int bytes) => _socket.ReceiveBufferSize = bytes;

    /// <summary>Closes at once, whatever is in flight.</summary>
    public void Abort()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A controller with an I/O queue, connected before something goes wrong elsewhere, that must
/// keep doing I/O correctly afterwards.
/// </summary>
internal sealed class Bystander : IAsyncDisposable
{
    private readonly ulong _firstBlock;
    private int _round;

    private Bystander(HostController controller, HostQueue queue, ulong firstBlock)
    {
        Controller = controller;
        Queue = queue;
        _firstBlock = firstBlock;
    }

    public HostController Controller { get; }
    public HostQueue Queue { get; }

    public static async Task<Bystander> StartAsync(RunningTarget target, ulong firstBlock, HostQueueOptions? options = null)
    {
        var controller = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), options: options).Within();
        try
        {
            var queue = await controller.ConnectIoQueueAsync(1).Within();
            var bystander = new Bystander(controller, queue, firstBlock);
            await bystander.VerifyIoAsync();
            return bystander;
        }
        catch
        {
            await controller.DisposeAsync();
            throw;
        }
    }

    /// <summary>An in-capsule and an R2T write, read back, plus an admin command.</summary>
    public async Task VerifyIoAsync()
    {
        int round = Interlocked.Increment(ref _round);
        var small = Nvme.RandomBytes(4096, round);
        var large = Nvme.RandomBytes(32768, round + 1000);
        await Queue.WriteAsync(_firstBlock, small);
        await Queue.WriteAsync(_firstBlock + 8, large);
        Assert.Equal(small, await Queue.ReadAsync(_firstBlock, small.Length));
        Assert.Equal(large, await Queue.ReadAsync(_firstBlock + 8, large.Length));
        var identify = await Controller.IdentifyAsync(IdentifyCns.Controller).Within();
        Assert.Equal(Controller.ControllerId, BinaryPrimitives.ReadUInt16LittleEndian(identify.AsSpan(78)));
        Assert.Null(Queue.Failure);
        Assert.Null(Controller.Admin.Failure);
    }

    public ValueTask DisposeAsync() => Controller.DisposeAsync();
}
