using Xunit;
using System.Buffers.Binary;
using System.Text;
using NovaStor.Initiator;
using NovaStor.Protocol;

namespace NovaStor.Target.Tests;

/// <summary>A target with a configured subsystem that admits one listed host, next to one open to any host.</summary>
public sealed class RestrictedTarget : IAsyncLifetime
{
    public const string RestrictedNqn = "nqn.2026-11.io.novastor:restricted";
    public const string OpenNqn = "nqn.2026-11.io.novastor:open";

    public HostIdentity Allowed { get; } = HostIdentity.Create();
    public RunningTarget Target { get; private set; } = null!;

    public async Task InitializeAsync() => Target = await RunningTarget.StartAsync(
        $"--NovaStor:Subsystems:0:Nqn={RestrictedNqn}",
        $"--NovaStor:Subsystems:0:AllowedHosts:0={Allowed.HostNqn}",
        "--NovaStor:Subsystems:0:Namespaces:0:Volume=v1",
        "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=67108864",
        "--NovaStor:Subsystems:0:Namespaces:0:BlockSize=4096",
        $"--NovaStor:Subsystems:1:Nqn={OpenNqn}",
        "--NovaStor:Subsystems:1:AllowAnyHost=true",
        "--NovaStor:Subsystems:1:Namespaces:0:Volume=v2",
        "--NovaStor:Subsystems:1:Namespaces:0:SizeBytes=33554432");

    public async Task DisposeAsync() => await Target.DisposeAsync();
}

public sealed class AccessControlTests(RestrictedTarget fixture) : IClassFixture<RestrictedTarget>
{
    private RunningTarget Target => fixture.Target;

    [Fact]
    public async Task The_listed_host_is_admitted_and_does_io_in_4k_blocks()
    {
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RestrictedTarget.RestrictedNqn, fixture.Allowed).Within();
        var ns = await controller.IdentifyAsync(IdentifyCns.Namespace, 1).Within();
        Assert.Equal(67108864UL / 4096, BinaryPrimitives.ReadUInt64LittleEndian(ns));
        Assert.Equal(12, ns[128 + 2]); // LBADS: 4096-byte blocks

        var queue = await controller.ConnectIoQueueAsync(1).Within();
        var data = Nvme.RandomBytes(3 * 4096, 600);
        await queue.WriteAsync(10, data, blockSize: 4096);
        Assert.Equal(data, await queue.ReadAsync(10, data.Length, blockSize: 4096));
        Nvme.AssertStatus(await queue.ExecuteAsync(NvmeCommands.Read(1, 16384, 1), dataIn: new byte[4096]), 0, 0x80);
    }

    [Fact]
    public async Task Another_host_is_refused_with_connect_invalid_host()
    {
        var stranger = HostIdentity.Create();
        await using var queue = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var completion = await queue.ConnectAsync(0, 31, Nvme.ConnectBytes(stranger, 0xFFFF, RestrictedTarget.RestrictedNqn));
        Nvme.AssertStatus(completion, 1, 0x84);

        // Not by pretending to join the listed host's controller either.
        await using var controller = await HostController.ConnectAsync(Target.EndPoint, RestrictedTarget.RestrictedNqn, fixture.Allowed).Within();
        await using var io = await HostQueue.ConnectAsync(Target.EndPoint).Within();
        var join = await io.ConnectAsync(1, 127, Nvme.ConnectBytes(stranger, controller.ControllerId, RestrictedTarget.RestrictedNqn));
        Assert.False(join.Status.IsSuccess, "a stranger joined the listed host's controller");

        // The open subsystem next to it admits the stranger.
        await using var open = await HostController.ConnectAsync(Target.EndPoint, RestrictedTarget.OpenNqn, stranger).Within();
        var openQueue = await open.ConnectIoQueueAsync(1).Within();
        await openQueue.ReadAsync(0, 512);
    }

    [Fact]
    public async Task Discovery_lists_a_restricted_subsystem_only_to_its_hosts()
    {
        Assert.Contains(RestrictedTarget.RestrictedNqn, await DiscoverAsync(fixture.Allowed));
        Assert.Contains(RestrictedTarget.OpenNqn, await DiscoverAsync(fixture.Allowed));

        var strangers = await DiscoverAsync(HostIdentity.Create());
        Assert.DoesNotContain(RestrictedTarget.RestrictedNqn, strangers);
        Assert.Contains(RestrictedTarget.OpenNqn, strangers);
    }

    [Fact]
    public async Task Namespace_identifiers_differ_between_subsystems()
    {
        await using var restricted = await HostController.ConnectAsync(Target.EndPoint, RestrictedTarget.RestrictedNqn, fixture.Allowed).Within();
        await using var open = await HostController.ConnectAsync(Target.EndPoint, RestrictedTarget.OpenNqn, fixture.Allowed).Within();
        var a = await restricted.IdentifyAsync(IdentifyCns.Namespace, 1).Within();
        var b = await open.IdentifyAsync(IdentifyCns.Namespace, 1).Within();
        Assert.NotEqual(a.AsSpan(104, 16).ToArray(), b.AsSpan(104, 16).ToArray());

        var idA = await restricted.IdentifyAsync(IdentifyCns.Controller).Within();
        var idB = await open.IdentifyAsync(IdentifyCns.Controller).Within();
        Assert.NotEqual(Encoding.ASCII.GetString(idA, 4, 20), Encoding.ASCII.GetString(idB, 4, 20)); // SN per subsystem
    }

    private async Task<List<string>> DiscoverAsync(HostIdentity host)
    {
        await using var discovery = await HostController.ConnectAsync(Target.EndPoint, Nvme.DiscoveryNqn, host).Within();
        var header = await discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024).Within();
        int records = (int)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(8));
        var page = await discovery.LogPageAsync(LogPageIdentifiers.Discovery, 1024 * (records + 1)).Within();
        return [.. Enumerable.Range(1, records).Select(i => Encoding.UTF8.GetString(page, (1024 * i) + 256, 256).TrimEnd('\0'))];
    }
}
