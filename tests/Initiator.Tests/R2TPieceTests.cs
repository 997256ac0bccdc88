using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NovaStor.Protocol;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// A scripted controller with a small MAXH2CDATA asks for a write's data in two R2Ts: the host
/// must answer each with H2CData pieces of at most MAXH2CDATA, in order, LAST_PDU on the final
/// piece of each R2T only, the data digest right on every piece, and the bytes its caller wrote.
/// </summary>
public sealed class R2TPieceTests
{
    private const int MaxH2CData = 4096, WriteLength = 6 * 4096;

    [Theory]
    [InlineData(HostQueueTransport.Automatic, false)]
    [InlineData(HostQueueTransport.Automatic, true)]
    [InlineData(HostQueueTransport.Portable, true)]
    public async Task Each_r2t_is_answered_with_pieces_of_at_most_maxh2cdata(HostQueueTransport transport, bool dataDigest)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var data = Support.RandomBytes(WriteLength, 7);
        var script = Task.Run(() => RunScriptAsync(listener, dataDigest));

        var options = new HostQueueOptions { Transport = transport, DataDigest = dataDigest, InCapsuleDataLimit = 0 };
        var queue = await HostQueue.ConnectAsync((IPEndPoint)listener.LocalEndpoint, options).Within();
        CompletionQueueEntry completion;
        try
        {
            completion = await queue.SubmitAsync(NvmeCommands.Write(1, 0, WriteLength / 512), data).Within();
        }
        finally
        {
            await queue.DisposeAsync();
        }

        Assert.True(completion.Status.IsSuccess, $"the script refused the data: {completion.Status}");
        var (received, pieces) = await script.WaitAsync(Support.Limit);
        Assert.Equal(data, received);
        // R2T 1 asks for 16 KiB at offset 0 (4 pieces), R2T 2 for 8 KiB at 16 KiB (2 pieces).
        Assert.Equal([(0u, 4096u, false), (4096u, 4096u, false), (8192u, 4096u, false), (12288u, 4096u, true), (16384u, 4096u, false), (20480u, 4096u, true)], pieces);
    }

    /// <summary>ICResp, two R2Ts for the write, every H2CData piece checked and recorded, then a success CapsuleResp.</summary>
    private static async Task<(byte[] Data, List<(uint Offset, uint Length, bool Last)> Pieces)> RunScriptAsync(TcpListener listener, bool dataDigest)
    {
        using var socket = await listener.AcceptSocketAsync();
        var request = new byte[PduSizes.InitializeConnection];
        await ReceiveExactlyAsync(socket, request);
        var response = new byte[PduSizes.InitializeConnection];
        new InitializeConnectionResponse(0, 0, dataDigest ? DigestOptions.Data : DigestOptions.None, MaxH2CData).WriteTo(response);
        await socket.SendAsync(response);
        var capsule = new byte[PduSizes.CapsuleCommandHeader];
        await ReceiveExactlyAsync(socket, capsule);
        var command = SubmissionQueueEntry.Read(capsule.AsSpan(PduSizes.CommonHeader));

        var data = new byte[WriteLength];
        var pieces = new List<(uint, uint, bool)>();
        foreach (var (offset, length) in new[] { (0u, 16384u), (16384u, 8192u) })
        {
            var r2t = new byte[PduSizes.ReadyToTransfer];
            PduWriter.WriteReadyToTransfer(r2t, new DataTransferHeader(command.CommandId, 3, offset, length), headerDigest: false);
            await socket.SendAsync(r2t);
            for (uint got = 0; got < length;)
            {
                var header = new byte[PduSizes.DataHeader];
                await ReceiveExactlyAsync(socket, header);
                var pdu = PduHeader.Read(header);
                var transfer = DataTransferHeader.Read(header);
                Assert.Equal(PduType.HostToControllerData, pdu.Type);
                Assert.Equal(command.CommandId, transfer.CommandId);
                Assert.Equal((ushort)3, transfer.TransferTag);
                Assert.InRange(transfer.DataLength, 1u, (uint)MaxH2CData);
                var piece = data.AsMemory((int)transfer.DataOffset, (int)transfer.DataLength);
                await ReceiveExactlyAsync(socket, piece);
                if (dataDigest)
                {
                    var digest = new byte[4];
                    await ReceiveExactlyAsync(socket, digest);
                    Assert.Equal(Crc32C.Compute(piece.Span), BinaryPrimitives.ReadUInt32LittleEndian(digest));
                }

                pieces.Add((transfer.DataOffset, transfer.DataLength, (pdu.Flags & PduFlags.LastPdu) != 0));
                got += transfer.DataLength;
            }
        }

        var answer = new byte[PduSizes.CapsuleResponse];
        PduWriter.WriteCapsuleResponse(answer, new CompletionQueueEntry(0, 0, 0, 0, command.CommandId, NvmeStatus.Success), headerDigest: false);
        await socket.SendAsync(answer);
        // Stay open until the host hangs up, so the answer is never lost to a reset.
        var sink = new byte[256];
        try
        {
            while (await socket.ReceiveAsync(sink).WaitAsync(Support.Limit) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }

        return (data, pieces);
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer)
    {
        int received = 0;
        while (received < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[received..]);
            if (n == 0)
            {
                throw new IOException("the host closed the connection");
            }

            received += n;
        }
    }
}
