using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using NovaStor.Cli.Output;
using NovaStor.ControlPlane.V1;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>Tables and JSON from constructed proto messages, and gRPC statuses as messages and exit codes.</summary>
public sealed class ControlPlaneOutputTests
{
    private static readonly Uri Address = new("https://127.0.0.1:9500");

    private static Volume SampleVolume() => new()
    {
        Name = "db-1",
        Id = "5f0c6c1e-0d7a-4c4e-9a3f-2b1a7d9e8c01",
        SizeBytes = 1UL << 30,
        BlockSize = 4096,
        AllocatedBytes = 3UL << 20,
        Drives = { "data", "ssd2" },
        ChunkBytes = 4UL << 20,
        Exports = { new VolumeExport { SubsystemNqn = "nqn.2024-01.io.test:a", NamespaceId = 2 } },
    };

    [Fact]
    public void A_volume_prints_as_lines_and_json()
    {
        string text = VolumeReport.Text(SampleVolume());
        Assert.Contains("name          : db-1\n", text, StringComparison.Ordinal);
        Assert.Contains("size          : 1.00 GiB (1073741824 bytes)\n", text, StringComparison.Ordinal);
        Assert.Contains("block size    : 4096\n", text, StringComparison.Ordinal);
        Assert.Contains("allocated     : 3.00 MiB (3145728 bytes)\n", text, StringComparison.Ordinal);
        Assert.Contains("drives        : data, ssd2\n", text, StringComparison.Ordinal);
        Assert.Contains("chunk         : 4.00 MiB\n", text, StringComparison.Ordinal);
        Assert.Contains("exports       : nqn.2024-01.io.test:a nsid 2\n", text, StringComparison.Ordinal);

        using var json = JsonDocument.Parse(JsonText.Write(VolumeReport.Json(SampleVolume())));
        var root = json.RootElement;
        Assert.Equal("db-1", root.GetProperty("name").GetString());
        Assert.Equal(1UL << 30, root.GetProperty("size_bytes").GetUInt64());
        Assert.Equal(4096, root.GetProperty("block_size").GetInt32());
        Assert.Equal(["data", "ssd2"], root.GetProperty("drives").EnumerateArray().Select(d => d.GetString()!));
        Assert.Equal(2, root.GetProperty("exports")[0].GetProperty("namespace_id").GetInt32());
    }

    [Fact]
    public void Volumes_list_as_an_aligned_table()
    {
        var small = new Volume { Name = "a", SizeBytes = 512UL << 20, BlockSize = 512 };
        string text = VolumeReport.List([SampleVolume(), small]);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^name\s+size\s+block\s+allocated\s+drives\s+exports$", lines[0]);
        Assert.Matches(@"^db-1\s+1\.00 GiB\s+4096\s+3\.00 MiB\s+data,ssd2\s+nqn\.2024-01\.io\.test:a nsid 2$", lines[1]);
        Assert.Matches(@"^a\s+512\.00 MiB\s+512\s+0 B\s+-\s+-$", lines[2]);
        // Columns line up: "size" is right-aligned, so every row's size ends where the header's does.
        int end = lines[0].IndexOf("size", StringComparison.Ordinal) + 4;
        Assert.Equal("GiB", lines[1][(end - 3)..end]);
        Assert.Equal("MiB", lines[2][(end - 3)..end]);
        Assert.Equal("no volumes\n", VolumeReport.List([]));

        using var json = JsonDocument.Parse(JsonText.Write(VolumeReport.ListJson([SampleVolume(), small])));
        Assert.Equal(2, json.RootElement.GetProperty("volumes").GetArrayLength());
    }

    [Fact]
    public void The_changed_region_map_prints_counts_and_json_carries_the_bitmap()
    {
        byte[] bitmap = [0b0000_0101, 0, 0x80, 0];
        var map = new ChangedRegions { RegionBytes = 65536, RegionCount = 32, Bitmap = ByteString.CopyFrom(bitmap), ChangedRegionCount = 3, Complete = true };
        string text = VolumeReport.Changes("db-1", map, cleared: false);
        Assert.Contains("region size   : 64.00 KiB\n", text, StringComparison.Ordinal);
        Assert.Contains("regions       : 32\n", text, StringComparison.Ordinal);
        Assert.Contains("changed       : 3 (192.00 KiB)\n", text, StringComparison.Ordinal);
        Assert.Contains("complete      : yes\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("cleared", text, StringComparison.Ordinal);

        map.Complete = false;
        string incomplete = VolumeReport.Changes("db-1", map, cleared: true);
        Assert.Contains("complete      : no: ", incomplete, StringComparison.Ordinal);
        Assert.Contains("copy the whole volume", incomplete, StringComparison.Ordinal);
        Assert.Contains("cleared       : yes", incomplete, StringComparison.Ordinal);

        using var json = JsonDocument.Parse(JsonText.Write(VolumeReport.ChangesJson("db-1", map, cleared: true)));
        var root = json.RootElement;
        Assert.Equal(bitmap, Convert.FromBase64String(root.GetProperty("bitmap").GetString()!));
        Assert.Equal(3UL, root.GetProperty("changed_region_count").GetUInt64());
        Assert.False(root.GetProperty("complete").GetBoolean());
        Assert.True(root.GetProperty("cleared").GetBoolean());
    }

    [Fact]
    public void Capacity_prints_sizes()
    {
        var capacity = new Capacity { AvailableBytes = 10UL << 30, TotalBytes = 20UL << 30, ProvisionedBytes = 30UL << 30, MaximumVolumeBytes = 10UL << 30 };
        string text = VolumeReport.Capacity(capacity);
        Assert.Contains("available     : 10.00 GiB (10737418240 bytes)\n", text, StringComparison.Ordinal);
        Assert.Contains("provisioned   : 30.00 GiB", text, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(JsonText.Write(VolumeReport.CapacityJson(capacity)));
        Assert.Equal(20UL << 30, json.RootElement.GetProperty("total_bytes").GetUInt64());
    }

    private static Subsystem SampleSubsystem() => new()
    {
        Nqn = "nqn.2024-01.io.test:a",
        SerialNumber = "SN1",
        ModelNumber = "NovaStor",
        AllowedHosts = { "nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427" },
        Namespaces = { new Namespace { Id = 1, Volume = "db-1", AnaGroup = 1, SizeBytes = 1UL << 30, BlockSize = 512, Nguid = "00112233445566778899aabbccddeeff", Uuid = "00112233-4455-6677-8899-aabbccddeeff" } },
        Controllers =
        {
            new ControllerInfo
            {
                SubsystemNqn = "nqn.2024-01.io.test:a", ControllerId = 7, HostNqn = "nqn.host", HostId = "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                QueueCount = 3, KeepAliveTimeoutMs = 5000, RemoteAddress = "127.0.0.1:50000", PortId = 1,
                ConnectedSince = Timestamp.FromDateTimeOffset(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero)),
            },
        },
    };

    [Fact]
    public void A_subsystem_prints_its_namespaces_hosts_and_controllers()
    {
        string text = SubsystemReport.Text(SampleSubsystem());
        Assert.Contains("nqn           : nqn.2024-01.io.test:a\n", text, StringComparison.Ordinal);
        Assert.Contains("allow any host: no\n", text, StringComparison.Ordinal);
        Assert.Contains("hosts         : nqn.2014-08.org.nvmexpress:uuid:1b4e28ba", text, StringComparison.Ordinal);
        Assert.Contains("namespaces    : 1\n", text, StringComparison.Ordinal);
        Assert.Matches(@"\n  nsid\s+volume\s+size\s+block\s+ana group\s+nguid\s+uuid\n", text);
        Assert.Matches(@"\n     1\s+db-1\s+1\.00 GiB\s+512\s+1\s+00112233445566778899aabbccddeeff\s+00112233-4455-6677-8899-aabbccddeeff\n", text);
        Assert.Contains("controllers   : 1\n", text, StringComparison.Ordinal);
        Assert.Matches(@"\n\s+7\s+nqn\.host\s+1b4e28ba-\S+\s+3\s+5000\s+127\.0\.0\.1:50000\s+1\s+2025-01-02 03:04:05Z\n", text);

        using var json = JsonDocument.Parse(JsonText.Write(SubsystemReport.Json(SampleSubsystem())));
        var root = json.RootElement;
        Assert.Equal("SN1", root.GetProperty("serial_number").GetString());
        Assert.False(root.GetProperty("allow_any_host").GetBoolean());
        Assert.Equal("db-1", root.GetProperty("namespaces")[0].GetProperty("volume").GetString());
        Assert.Equal(7, root.GetProperty("controllers")[0].GetProperty("controller_id").GetInt32());
        Assert.Equal("2025-01-02T03:04:05.0000000+00:00", root.GetProperty("controllers")[0].GetProperty("connected_since").GetString());
    }

    [Fact]
    public void Subsystems_list_as_a_table()
    {
        var open = new Subsystem { Nqn = "nqn.2024-01.io.test:b", AllowAnyHost = true, Static = true };
        var lines = SubsystemReport.List([SampleSubsystem(), open]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^nqn\s+namespaces\s+hosts\s+controllers\s+static\s+model$", lines[0]);
        Assert.Matches(@"^nqn\.2024-01\.io\.test:a\s+1\s+1\s+1\s+no\s+NovaStor$", lines[1]);
        Assert.Matches(@"^nqn\.2024-01\.io\.test:b\s+0\s+any\s+0\s+yes\s+-$", lines[2]);
    }

    [Fact]
    public void Controllers_list_as_a_table_and_json()
    {
        var controllers = SampleSubsystem().Controllers;
        var lines = ControllerListReport.Text(controllers).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^subsystem\s+cntlid\s+host nqn\s+host id\s+queues\s+kato \(ms\)\s+remote\s+port id\s+connected since$", lines[0]);
        Assert.StartsWith("nqn.2024-01.io.test:a", lines[1], StringComparison.Ordinal);
        Assert.Equal("no controllers\n", ControllerListReport.Text([]));
        using var json = JsonDocument.Parse(JsonText.Write(ControllerListReport.Json(controllers)));
        Assert.Equal(5000, json.RootElement.GetProperty("controllers")[0].GetProperty("keep_alive_timeout_ms").GetInt32());
    }

    [Fact]
    public void Listeners_print_their_ana_states()
    {
        var listener = new Listener
        {
            PortId = 2,
            Address = "127.0.0.1",
            Port = 4421,
            AnaStates = { new AnaGroupState { Group = 3, State = AnaState.Inaccessible }, new AnaGroupState { Group = 1, State = AnaState.NonOptimized } },
        };
        var lines = ListenerReport.List([new Listener { PortId = 1, Address = "0.0.0.0", Port = 4420, Static = true }, listener]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^port id\s+address\s+port\s+static\s+ana states$", lines[0]);
        Assert.Matches(@"^\s+1\s+0\.0\.0\.0\s+4420\s+yes\s+all groups optimized$", lines[1]);
        Assert.Matches(@"^\s+2\s+127\.0\.0\.1\s+4421\s+no\s+1=non-optimized, 3=inaccessible \(others optimized\)$", lines[2]);
        Assert.Equal("port id 2: 127.0.0.1:4421, ANA 1=non-optimized, 3=inaccessible (others optimized)\n", ListenerReport.Line(listener));

        using var json = JsonDocument.Parse(JsonText.Write(ListenerReport.ListJson([listener])));
        var states = json.RootElement.GetProperty("listeners")[0].GetProperty("ana_states");
        Assert.Equal("inaccessible", states[0].GetProperty("state").GetString());
        Assert.Equal(3, states[0].GetProperty("group").GetInt32());
    }

    [Fact]
    public void Every_ana_state_name_maps_both_ways()
    {
        foreach (var (name, state) in ListenerReport.States)
        {
            Assert.Equal(name, ListenerReport.Name(state));
        }

        Assert.Equal(4, ListenerReport.States.Count);
    }

    private static LatencyHistogram Histogram(ulong[] counts, ulong overflow = 0) => new()
    {
        UpperBoundsUs = { 10, 100, 1000 },
        Counts = { counts },
        Overflow = overflow,
        SumUs = 0,
    };

    [Fact]
    public void Percentiles_interpolate_inside_the_bucket()
    {
        // All 100 in (10, 100]: the median is half-way, p99 near the top.
        Assert.Equal(55, StatsReport.Percentile(Histogram([0, 100, 0]), 0.5)!.Value, 6);
        Assert.Equal(99.1, StatsReport.Percentile(Histogram([0, 100, 0]), 0.99)!.Value, 6);
        // 50 in [0, 10], 49 in (10, 100], 1 in (100, 1000].
        Assert.Equal(10, StatsReport.Percentile(Histogram([50, 49, 1]), 0.5)!.Value, 6);
        Assert.Equal(100, StatsReport.Percentile(Histogram([50, 49, 1]), 0.99)!.Value, 6);
        Assert.Null(StatsReport.Percentile(Histogram([0, 0, 0]), 0.5));
        Assert.Null(StatsReport.Percentile(null, 0.5));
        Assert.Equal(double.PositiveInfinity, StatsReport.Percentile(Histogram([1, 0, 0], overflow: 99), 0.5));
    }

    [Theory]
    [InlineData(5.25, "5.3us")]
    [InlineData(55.0, "55us")]
    [InlineData(1500.0, "1.50ms")]
    [InlineData(2_500_000.0, "2.50s")]
    public void Latencies_print_in_their_unit(double microseconds, string expected) => Assert.Equal(expected, StatsReport.Latency(microseconds));

    [Fact]
    public void Stats_print_tables_with_percentiles_and_json_with_the_histogram()
    {
        var stats = new StatsResponse
        {
            Namespaces =
            {
                new NamespaceStats
                {
                    SubsystemNqn = "nqn.2024-01.io.test:a", NamespaceId = 1, Volume = "db-1",
                    Counters = new IoCounters { ReadCommands = 60, WriteCommands = 40, OtherCommands = 1, BytesRead = 60 * 4096, BytesWritten = 40 * 4096, Errors = 2, Latency = Histogram([0, 100, 0]) },
                },
            },
            Queues =
            {
                new QueueStats { SubsystemNqn = "nqn.2024-01.io.test:a", ControllerId = 7, QueueId = 1, Counters = new IoCounters { ReadCommands = 1, Latency = Histogram([1, 0, 0], overflow: 99) } },
            },
        };
        string text = StatsReport.Text(stats);
        Assert.Contains("namespaces\n", text, StringComparison.Ordinal);
        Assert.Matches(@"\n  subsystem\s+nsid\s+volume\s+reads\s+writes\s+other\s+read\s+written\s+errors\s+p50\s+p99\n", text);
        Assert.Matches(@"\n  nqn\.2024-01\.io\.test:a\s+1\s+db-1\s+60\s+40\s+1\s+240\.00 KiB\s+160\.00 KiB\s+2\s+55us\s+99us\n", text);
        Assert.Matches(@"\n  subsystem\s+cntlid\s+qid\s+reads\s+writes", text);
        Assert.Matches(@"\n  nqn\.2024-01\.io\.test:a\s+7\s+1\s+1\s+0\s+0\s+0 B\s+0 B\s+0\s+>1\.00ms\s+>1\.00ms\n", text);

        using var json = JsonDocument.Parse(JsonText.Write(StatsReport.Json(stats)));
        var latency = json.RootElement.GetProperty("namespaces")[0].GetProperty("counters").GetProperty("latency");
        Assert.Equal([10.0, 100.0, 1000.0], latency.GetProperty("upper_bounds_us").EnumerateArray().Select(b => b.GetDouble()));
        Assert.Equal([0UL, 100UL, 0UL], latency.GetProperty("counts").EnumerateArray().Select(c => c.GetUInt64()));
        Assert.Equal(55, latency.GetProperty("p50_us").GetDouble());
        var overflowed = json.RootElement.GetProperty("queues")[0].GetProperty("counters").GetProperty("latency");
        Assert.Equal(99UL, overflowed.GetProperty("overflow").GetUInt64());
        Assert.Equal(JsonValueKind.Null, overflowed.GetProperty("p99_us").ValueKind);
    }

    [Fact]
    public void Empty_stats_say_so()
    {
        string text = StatsReport.Text(new StatsResponse());
        Assert.Equal("namespaces\n  none\nqueues\n  none\n", text[..text.IndexOf("latency", StringComparison.Ordinal)]);
    }

    [Theory]
    [InlineData(StatusCode.AlreadyExists, "volume 'db-1' already exists")]
    [InlineData(StatusCode.NotFound, "no volume 'db-1'")]
    [InlineData(StatusCode.InvalidArgument, "block size 1024: 512 or 4096")]
    [InlineData(StatusCode.FailedPrecondition, "volume 'db-1' is exported by nqn.x nsid 1; --force removes the namespace first")]
    [InlineData(StatusCode.ResourceExhausted, "the drives cannot hold 10 TiB")]
    [InlineData(StatusCode.OutOfRange, "too big")]
    public void Refusals_exit_1_with_the_targets_message(StatusCode code, string detail)
    {
        var (exit, message) = ControlPlaneFailures.Describe(new RpcException(new Status(code, detail)), Address, 30);
        Assert.Equal(ExitCodes.Refused, exit);
        Assert.Equal(detail, message);
    }

    [Fact]
    public void A_refusal_without_a_message_names_its_status()
    {
        var (exit, message) = ControlPlaneFailures.Describe(new RpcException(new Status(StatusCode.AlreadyExists, "")), Address, 30);
        Assert.Equal(ExitCodes.Refused, exit);
        Assert.Equal("already exists", message);
    }

    [Fact]
    public void Target_failures_and_unimplemented_calls_exit_1()
    {
        var (exit, message) = ControlPlaneFailures.Describe(new RpcException(new Status(StatusCode.Internal, "disk on fire")), Address, 30);
        Assert.Equal(ExitCodes.Refused, exit);
        Assert.Equal("the target failed: disk on fire", message);
        (exit, message) = ControlPlaneFailures.Describe(new RpcException(new Status(StatusCode.Unimplemented, "Service is unimplemented.")), Address, 30);
        Assert.Equal(ExitCodes.Refused, exit);
        Assert.Contains("does not implement", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_refused_connection_exits_2()
    {
        var inner = new HttpRequestException("Connection refused (127.0.0.1:9500)", new SocketException((int)SocketError.ConnectionRefused));
        var (exit, message) = ControlPlaneFailures.Describe(new RpcException(new Status(StatusCode.Unavailable, "Error starting gRPC call. HttpRequestException: ...", inner)), Address, 30);
        Assert.Equal(ExitCodes.Unreachable, exit);
        Assert.StartsWith("cannot reach the control plane at https://127.0.0.1:9500: ", message, StringComparison.Ordinal);
        Assert.Contains("refused", message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_failed_handshake_exits_2_and_points_at_the_certificate_options()
    {
        var inner = new HttpRequestException("The SSL connection could not be established, see inner exception.",
            new AuthenticationException("The remote certificate was rejected by the provided RemoteCertificateValidationCallback."));
        var (exit, message) = ControlPlaneFailures.Describe(new RpcException(new Status(StatusCode.Unavailable, "Error starting gRPC call.", inner)), Address, 30);
        Assert.Equal(ExitCodes.Unreachable, exit);
        Assert.StartsWith("TLS handshake with the control plane at https://127.0.0.1:9500 failed: The remote certificate was rejected", message, StringComparison.Ordinal);
        Assert.Contains("--ca", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(StatusCode.DeadlineExceeded, "did not answer within 12 s (--timeout)")]
    [InlineData(StatusCode.Unauthenticated, "did not accept the client certificate")]
    [InlineData(StatusCode.PermissionDenied, "denied access")]
    public void No_answer_or_no_access_exits_2(StatusCode code, string expected)
    {
        var (exit, message) = ControlPlaneFailures.Describe(new RpcException(new Status(code, "")), Address, 12);
        Assert.Equal(ExitCodes.Unreachable, exit);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_status_the_client_made_after_a_broken_call_exits_2()
    {
        var inner = new IOException("The response ended prematurely.");
        var (exit, message) = ControlPlaneFailures.Describe(new RpcException(new Status(StatusCode.Internal, "Error starting gRPC call. IOException: ...", inner)), new Uri("http://127.0.0.1:9500"), 30);
        Assert.Equal(ExitCodes.Unreachable, exit);
        Assert.StartsWith("cannot reach the control plane at http://127.0.0.1:9500: The response ended prematurely.", message, StringComparison.Ordinal);
    }
}
