using System.Buffers.Binary;
using NovaStor.Protocol;
using NovaStor.Target.Core;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>The error log's entries for transport and media errors, without a connection.</summary>
public sealed class ErrorInformationLogTests
{
    [Fact]
    public void Transport_errors_name_tcp_and_media_errors_are_counted_apart()
    {
        var log = new ErrorInformationLog();
        var command = new SubmissionQueueEntry { Opcode = IoOpcode.Write, CommandId = 9, NamespaceId = 1, Cdw10 = 5 };
        log.Record(3, command, StatusCodes.DataTransferError);
        log.Record(3, command, StatusCodes.WriteFault);

        var page = log.Page();
        Assert.Equal(64 * 64, page.Length);
        Assert.Equal(2ul, BinaryPrimitives.ReadUInt64LittleEndian(page));
        Assert.Equal(0, page[29]);              // Write Fault is not the transport's
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(64)));
        Assert.Equal(3, page[64 + 29]);         // Data Transfer Error: TCP
        Assert.Equal(5ul, BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(64 + 16)));
        Assert.Equal(2ul, log.Count);
        Assert.Equal(1ul, log.MediaErrors);
    }
}
