using System.Net;
using System.Net.Sockets;
using NovaStor.Protocol;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// A scripted controller on 127.0.0.1 that answers ICReq correctly and then breaks a rule:
/// the host must fail the queue with an error naming the PDU and the field.
/// </summary>
public sealed class MisbehavingControllerTests
{
    [Fact]
    public async Task C2h_data_for_an_unknown_command_names_the_pdu_and_cccid()
    {
        var failure = await RunAgainstAsync(commandId => Data(PduType.ControllerToHostData, new DataTransferHeader((ushort)(commandId + 7), 0, 0, 512), 512));
        Assert.Contains("C2HData", failure.Message, StringComparison.Ordinal);
        Assert.Contains("CCCID", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task C2h_data_beyond_the_buffer_names_datao_and_datal()
    {
        var failure = await RunAgainstAsync(commandId => Data(PduType.ControllerToHostData, new DataTransferHeader(commandId, 0, 4096, 512), 512));
        Assert.Contains("DATAO 4096", failure.Message, StringComparison.Ordinal);
        Assert.Equal(FatalErrorStatus.DataTransferOutOfRange, failure.Status);
    }

    [Fact]
    public async Task A_termination_request_reports_its_fes_and_fei()
    {
        var failure = await RunAgainstAsync(_ =>
        {
            var pdu = new byte[PduSizes.TerminationRequestHeader];
            new TerminationRequest(PduType.ControllerToHostTerminationRequest, FatalErrorStatus.InvalidHeaderField, 10).WriteTo(pdu, default);
            return pdu;
        });
        Assert.Equal(FatalErrorStatus.InvalidHeaderField, failure.Status);
        Assert.Equal(10u, failure.Information);
        Assert.Contains("terminated", failure.Message, StringComparison.Ordinal);
    }

    private static byte[] Data(PduType type, DataTransferHeader header, int dataLength)
    {
        var pdu = new byte[PduWriter.MaxHeaderWithDigest + dataLength];
        int length = PduWriter.WriteDataHeader(pdu, type, header, last: true, success: false, headerDigest: false, dataDigest: false);
        return pdu[..(length + dataLength)];
    }

    /// <summary>Connects a queue to the script, sends a 1-block read, returns why the queue failed.</summary>
    private static async Task<NvmeTransportException> RunAgainstAsync(Func<ushort, byte[]> reply)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var script = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var request = new byte[PduSizes.InitializeConnection];
            await ReceiveExactlyAsync(socket, request);
            var response = new byte[PduSizes.InitializeConnection];
            new InitializeConnectionResponse(0, 0, DigestOptions.None, 131072).WriteTo(response);
            await socket.SendAsync(response);
            var capsule = new byte[PduSizes.CapsuleCommandHeader];
            await ReceiveExactlyAsync(socket, capsule);
            var command = SubmissionQueueEntry.Read(capsule.AsSpan(PduSizes.CommonHeader));
            await socket.SendAsync(reply(command.CommandId));
            // Stay open until the host hangs up, so the reply is never lost to a reset.
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
        });

        await using var queue = await HostQueue.ConnectAsync((IPEndPoint)listener.LocalEndpoint).Within();
        var error = await Assert.ThrowsAsync<NvmeTransportException>(() => queue.SubmitAsync(NvmeCommands.Read(1, 0, 1), default, new byte[512]).Within());
        Assert.Same(queue.Failure, error);
        await script.WaitAsync(Support.Limit);
        return error;
    }

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        int received = 0;
        while (received < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(received));
            if (n == 0)
            {
                throw new IOException("the host closed the connection");
            }

            received += n;
        }
    }
}
