using Xunit;
using System.Buffers.Binary;
using System.Text;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>The managed host against the target over loopback: connect, identify, data in and out.</summary>
public sealed class ConnectAndIoTests : IAsyncLifetime
{
    private RunningTarget _target = null!;

    public async Task InitializeAsync() => _target = await RunningTarget.StartAsync();

    public async Task DisposeAsync() => await _target.DisposeAsync();

    [Fact]
    public async Task Connect_enable_and_identify_report_the_embedded_default()
    {
        await using var controller = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create());
        var identify = await controller.IdentifyAsync(IdentifyCns.Controller);

        Assert.Equal(controller.ControllerId, BinaryPrimitives.ReadUInt16LittleEndian(identify.AsSpan(78)));
        Assert.Equal(RunningTarget.DefaultNqn, Encoding.ASCII.GetString(identify, 768, 256).TrimEnd('\0'));
        Assert.Equal("NovaStor", Encoding.ASCII.GetString(identify, 24, 40).TrimEnd());
        Assert.NotEqual(0, identify[76] & 0x2); // CMIC bit 1: several controllers

        var ns = await controller.IdentifyAsync(IdentifyCns.Namespace, 1);
        ulong blocks = BinaryPrimitives.ReadUInt64LittleEndian(ns);
        Assert.Equal((1UL << 30) / 512, blocks);
        Assert.Equal(9, ns[128 + 2]); // LBAF0 LBADS: 512-byte blocks
        Assert.Equal(1, ns[30] & 1); // NMIC: shared
    }

    [Theory]
    [InlineData(false, false, 4096)]
    [InlineData(false, false, 131072)]
    [InlineData(true, true, 4096)]
    [InlineData(true, true, 131072)]
    public async Task Bytes_written_are_the_bytes_read(bool headerDigest, bool dataDigest, int length)
    {
        var options = new HostQueueOptions { HeaderDigest = headerDigest, DataDigest = dataDigest };
        await using var controller = await HostController.ConnectAsync(_target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create(), options: options);
        var queue = await controller.ConnectIoQueueAsync(1);
        var written = new byte[length];
        Random.Shared.NextBytes(written);

        HostController.Check("Write", await queue.SubmitAsync(NvmeCommands.Write(1, 2048, length / 512), written));
        var read = new byte[length];
        HostController.Check("Read", await queue.SubmitAsync(NvmeCommands.Read(1, 2048, length / 512), dataIn: read));

        Assert.Equal(written, read);
    }
}
