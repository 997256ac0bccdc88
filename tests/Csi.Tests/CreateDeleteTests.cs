using Grpc.Core;
using NovaStor.Csi.V1;
using Xunit;
using static NovaStor.Csi.Tests.CsiDriver;
using Mode = NovaStor.Csi.V1.VolumeCapability.Types.AccessMode.Types.Mode;
using Cp = NovaStor.ControlPlane.V1;

namespace NovaStor.Csi.Tests;

/// <summary>
/// CreateVolume and DeleteVolume against two real storage nodes, with the CSI specification's
/// rules: idempotent by name, ALREADY_EXISTS for an incompatible repeat, INVALID_ARGUMENT and
/// OUT_OF_RANGE for bad requests, RESOURCE_EXHAUSTED where the topology has no room, DeleteVolume OK
/// for what does not exist and FAILED_PRECONDITION while a host is connected.
/// </summary>
public sealed class CreateDeleteTests(TwoNodeDriver fixture) : IClassFixture<TwoNodeDriver>
{
    private CsiDriver Driver => fixture.Driver;

    private static Cp.Volumes.VolumesClient VolumesOn(CsiDriver.StorageNode node) => new(node.ControlPlane());

    private static Cp.Subsystems.SubsystemsClient SubsystemsOn(CsiDriver.StorageNode node) => new(node.ControlPlane());

    [Fact]
    public async Task A_volume_is_made_with_its_own_subsystem_and_no_host_and_the_same_request_returns_the_same_volume()
    {
        var created = (await Driver.Controller.CreateVolumeAsync(Capabilities.Create("pvc-0f4b7a2e-5c11-4d3a-9a63-0c2d51e3c001", 100_000_000), deadline: Deadline)).Volume;
        Assert.Equal(100_003_840L, created.CapacityBytes); // rounded up to 4 KiB blocks
        string node = Assert.Single(created.AccessibleTopology).Segments["novastor.io/node"];
        Assert.Equal($"{node}/pvc-0f4b7a2e-5c11-4d3a-9a63-0c2d51e3c001", created.VolumeId);
        string nqn = created.VolumeContext["novastor.io/nqn"];
        Assert.Equal("nqn.2026-12.io.novastor:csi:pvc-0f4b7a2e-5c11-4d3a-9a63-0c2d51e3c001", nqn);
        Assert.Matches("^[0-9a-f]{32}$", created.VolumeContext["novastor.io/nguid"]);
        Assert.True(Guid.TryParse(created.VolumeContext["novastor.io/uuid"], out _));
        Assert.Equal($"127.0.0.1:{Driver.Node(node).Target.Port}", created.VolumeContext["novastor.io/paths"]);

        // On the node: the catalog volume, 4 KiB blocks, exported as namespace 1 of a subsystem admitting nobody.
        var subsystem = await SubsystemsOn(Driver.Node(node)).GetSubsystemAsync(new Cp.GetSubsystemRequest { Nqn = nqn }, deadline: Deadline);
        Assert.False(subsystem.AllowAnyHost);
        Assert.Empty(subsystem.AllowedHosts);
        var ns = Assert.Single(subsystem.Namespaces);
        Assert.Equal((1u, "pvc-0f4b7a2e-5c11-4d3a-9a63-0c2d51e3c001", 4096u), (ns.Id, ns.Volume, ns.BlockSize));
        Assert.Equal(created.VolumeContext["novastor.io/nguid"], ns.Nguid);

        var again = (await Driver.Controller.CreateVolumeAsync(Capabilities.Create("pvc-0f4b7a2e-5c11-4d3a-9a63-0c2d51e3c001", 100_000_000), deadline: Deadline)).Volume;
        Assert.Equal(created, again);
        Assert.False(created.VolumeContext.ContainsKey("novastor.io/attach"), "no attachMode parameter: the node's default decides");

        // The StorageClass's attachMode goes to the nodes in the volume context.
        var managed = Capabilities.Create("pvc-0f4b7a2e-5c11-4d3a-9a63-0c2d51e3c001", 100_000_000);
        managed.Parameters["attachMode"] = "managed";
        Assert.Equal("managed", (await Driver.Controller.CreateVolumeAsync(managed, deadline: Deadline)).Volume.VolumeContext["novastor.io/attach"]);

        await RefusedAsync(StatusCode.AlreadyExists, "outside the requested range",
            () => Driver.Controller.CreateVolumeAsync(Capabilities.Create("pvc-0f4b7a2e-5c11-4d3a-9a63-0c2d51e3c001", 200_000_000), deadline: Deadline).ResponseAsync);
        var other = Capabilities.Create("pvc-0f4b7a2e-5c11-4d3a-9a63-0c2d51e3c001", 100_000_000);
        other.Parameters["blockSize"] = "512";
        await RefusedAsync(StatusCode.AlreadyExists, "4096-byte blocks", () => Driver.Controller.CreateVolumeAsync(other, deadline: Deadline).ResponseAsync);

        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = created.VolumeId }, deadline: Deadline);
        await RefusedAsync(StatusCode.NotFound, "", () => VolumesOn(Driver.Node(node)).GetVolumeAsync(new Cp.GetVolumeRequest { Name = "pvc-0f4b7a2e-5c11-4d3a-9a63-0c2d51e3c001" }, deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.NotFound, "", () => SubsystemsOn(Driver.Node(node)).GetSubsystemAsync(new Cp.GetSubsystemRequest { Nqn = nqn }, deadline: Deadline).ResponseAsync);

        // Deleting again, or what never existed, is OK.
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = created.VolumeId }, deadline: Deadline);
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = "node-a/never-made" }, deadline: Deadline);
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = "no-such-node/x" }, deadline: Deadline);
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = "not an id of ours" }, deadline: Deadline);
        await RefusedAsync(StatusCode.InvalidArgument, "volume_id", () => Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest(), deadline: Deadline).ResponseAsync);
    }

    [Fact]
    public async Task Any_name_up_to_128_characters_and_beyond_gets_a_valid_volume_and_nqn()
    {
        string[] names = [new string('n', 128), "Name With Spaces/and/slashes", "ünïcödé-ñame", new string('x', 300)];
        foreach (string name in names)
        {
            var created = (await Driver.Controller.CreateVolumeAsync(Capabilities.Create(name, 1 << 20), deadline: Deadline)).Volume;
            string nqn = created.VolumeContext["novastor.io/nqn"];
            Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(nqn), 1, 223);
            Assert.Equal(created, (await Driver.Controller.CreateVolumeAsync(Capabilities.Create(name, 1 << 20), deadline: Deadline)).Volume);
            await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = created.VolumeId }, deadline: Deadline);
        }
    }

    [Fact]
    public async Task The_topology_decides_the_node_and_a_topology_without_room_is_resource_exhausted()
    {
        var onB = (await Driver.Controller.CreateVolumeAsync(Capabilities.Create("on-b", 1 << 20, requisiteNodes: "node-b"), deadline: Deadline)).Volume;
        Assert.StartsWith("node-b/", onB.VolumeId, StringComparison.Ordinal);
        Assert.Equal("node-b", onB.AccessibleTopology[0].Segments["novastor.io/node"]);

        // The same name asked for on another node is another volume.
        await RefusedAsync(StatusCode.AlreadyExists, "node-b", () => Driver.Controller.CreateVolumeAsync(Capabilities.Create("on-b", 1 << 20, requisiteNodes: "node-a"), deadline: Deadline).ResponseAsync);

        // Preferred, not required: the first preferred node that has room.
        var preferring = Capabilities.Create("prefers-a", 1 << 20);
        preferring.AccessibilityRequirements = new TopologyRequirement { Preferred = { new Topology { Segments = { ["novastor.io/node"] = "node-a" } } } };
        Assert.StartsWith("node-a/", (await Driver.Controller.CreateVolumeAsync(preferring, deadline: Deadline)).Volume.VolumeId, StringComparison.Ordinal);

        await RefusedAsync(StatusCode.ResourceExhausted, "node-z", () => Driver.Controller.CreateVolumeAsync(Capabilities.Create("nowhere", 1 << 20, requisiteNodes: "node-z"), deadline: Deadline).ResponseAsync);
        await RefusedAsync(StatusCode.ResourceExhausted, "can hold", () => Driver.Controller.CreateVolumeAsync(Capabilities.Create("too-big", long.MaxValue / 2), deadline: Deadline).ResponseAsync);

        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = onB.VolumeId }, deadline: Deadline);
    }

    public static TheoryData<string, StatusCode, string> BadRequests => new()
    {
        { "no name", StatusCode.InvalidArgument, "name is required" },
        { "no capabilities", StatusCode.InvalidArgument, "volume_capabilities is empty" },
        { "btrfs", StatusCode.InvalidArgument, "filesystem 'btrfs'" },
        { "shared ext4", StatusCode.InvalidArgument, "cannot be mounted by several nodes" },
        { "unknown mode", StatusCode.InvalidArgument, "UNKNOWN" },
        { "from a snapshot", StatusCode.InvalidArgument, "not offered" },
        { "limit below required", StatusCode.OutOfRange, "not a range" },
        { "no block fits", StatusCode.OutOfRange, "No whole number" },
        { "unknown parameter", StatusCode.InvalidArgument, "Unknown parameter 'replicas'" },
        { "odd block size", StatusCode.InvalidArgument, "512 or 4096" },
        { "odd attach mode", StatusCode.InvalidArgument, "'kernel' or 'managed'" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_create_request_says_what_is_wrong_and_makes_nothing(string what, StatusCode code, string words)
    {
        var request = Capabilities.Create("bad-" + what.Replace(' ', '-'), 1 << 20);
        switch (what)
        {
            case "no name": request.Name = ""; break;
            case "no capabilities": request.VolumeCapabilities.Clear(); break;
            case "btrfs": request.VolumeCapabilities[0] = Capabilities.Mount("btrfs"); break;
            case "shared ext4": request.VolumeCapabilities[0] = Capabilities.Mount("ext4", Mode.MultiNodeMultiWriter); break;
            case "unknown mode": request.VolumeCapabilities[0] = Capabilities.Block(Mode.Unknown); break;
            case "from a snapshot": request.VolumeContentSource = new VolumeContentSource { Snapshot = new VolumeContentSource.Types.SnapshotSource { SnapshotId = "s" } }; break;
            case "limit below required": request.CapacityRange = new CapacityRange { RequiredBytes = 2 << 20, LimitBytes = 1 << 20 }; break;
            case "no block fits": request.CapacityRange = new CapacityRange { RequiredBytes = 4097, LimitBytes = 8000 }; break;
            case "unknown parameter": request.Parameters["replicas"] = "3"; break;
            case "odd block size": request.Parameters["blockSize"] = "1024"; break;
            case "odd attach mode": request.Parameters["attachMode"] = "spdk"; break;
        }

        await RefusedAsync(code, words, () => Driver.Controller.CreateVolumeAsync(request, deadline: Deadline).ResponseAsync);
        foreach (var node in Driver.Nodes)
        {
            var volumes = await VolumesOn(node).ListVolumesAsync(new Cp.ListVolumesRequest(), deadline: Deadline);
            Assert.DoesNotContain(volumes.Volumes, v => v.Name.StartsWith("bad-", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Sidecar_parameters_are_ignored_and_blocks_of_512_are_offered()
    {
        var request = Capabilities.Create("params-512", 1 << 20, Capabilities.Block());
        request.Parameters["csi.storage.k8s.io/pvc/name"] = "data";
        request.Parameters["blockSize"] = "512";
        var created = (await Driver.Controller.CreateVolumeAsync(request, deadline: Deadline)).Volume;
        string node = created.AccessibleTopology[0].Segments["novastor.io/node"];
        var volume = await VolumesOn(Driver.Node(node)).GetVolumeAsync(new Cp.GetVolumeRequest { Name = "params-512" }, deadline: Deadline);
        Assert.Equal(512u, volume.BlockSize);
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = created.VolumeId }, deadline: Deadline);
    }

    [Fact]
    public async Task A_create_that_died_half_way_is_finished_by_the_repeat()
    {
        // The catalog volume exists (a first call died before its subsystem): the repeat exports it.
        var nodeA = Driver.Node("node-a");
        await VolumesOn(nodeA).CreateVolumeAsync(new Cp.CreateVolumeRequest { Name = "half-made", SizeBytes = 1 << 20, BlockSize = 4096 }, deadline: Deadline);
        var created = (await Driver.Controller.CreateVolumeAsync(Capabilities.Create("half-made", 1 << 20), deadline: Deadline)).Volume;
        Assert.Equal("node-a/half-made", created.VolumeId);
        var subsystem = await SubsystemsOn(nodeA).GetSubsystemAsync(new Cp.GetSubsystemRequest { Nqn = created.VolumeContext["novastor.io/nqn"] }, deadline: Deadline);
        Assert.Equal("half-made", Assert.Single(subsystem.Namespaces).Volume);
        await Driver.Controller.DeleteVolumeAsync(new DeleteVolumeRequest { VolumeId = created.VolumeId }, deadline: Deadline);
    }
}
