using Grpc.Core;
using NovaStor.ControlPlane;
using NovaStor.ControlPlane.V1;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// The control plane's changes against a target process killed with SIGKILL at a random moment:
/// after the restart, every acknowledged change is there, the one in flight is whole or absent,
/// and the catalog and the exports agree (no namespace of a missing volume, no half-made subsystem).
/// </summary>
public sealed class ControlPlaneCrashTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Rounds = 8;
    private static readonly TimeSpan CallLimit = TimeSpan.FromSeconds(20);

    /// <summary>What the node holds: volume sizes, and per subsystem its hosts and its exported volumes.</summary>
    private sealed record NodeModel(IReadOnlyDictionary<string, ulong> Volumes, IReadOnlyDictionary<string, (string Hosts, string Namespaces)> Subsystems)
    {
        public static NodeModel Empty { get; } = new(new Dictionary<string, ulong>(), new Dictionary<string, (string, string)>());

        public bool SameAs(NodeModel other) =>
            Volumes.Count == other.Volumes.Count && Volumes.All(v => other.Volumes.TryGetValue(v.Key, out var size) && size == v.Value)
            && Subsystems.Count == other.Subsystems.Count && Subsystems.All(s => other.Subsystems.TryGetValue(s.Key, out var value) && value == s.Value);

        public override string ToString() =>
            $"volumes [{string.Join(", ", Volumes.OrderBy(v => v.Key).Select(v => $"{v.Key}={v.Value}"))}] subsystems [{string.Join("; ", Subsystems.OrderBy(s => s.Key).Select(s => $"{s.Key}: hosts {s.Value.Hosts} ns {s.Value.Namespaces}"))}]";
    }

    /// <summary>One change: the call, and what it does to the model.</summary>
    private sealed record Change(string Name, Func<Task> Call, Func<NodeModel, NodeModel> Apply);

    [Fact]
    public async Task Changes_killed_at_any_moment_restart_whole_or_absent()
    {
        int controlPort = RunningTarget.FreePort();
        string[] arguments = ["--NovaStor:ControlPlane:Enabled=true", $"--NovaStor:ControlPlane:Port={controlPort}"];
        await using var target = await ExternalTarget.StartAsync(arguments).WaitAsync(TimeSpan.FromSeconds(40));
        // Over mutual TLS with the development certificates the target made on first start (they survive the kills).
        var client = ControlPlaneClientOptions.FromDirectory(new Uri($"https://127.0.0.1:{controlPort}"), CertificateFiles.DevelopmentDirectory(target.DataDirectory));
        var model = NodeModel.Empty;
        var random = new Random(20261206);
        for (int round = 0; round < Rounds; round++)
        {
            using var channel = ControlPlaneChannel.Create(client);
            var changes = Changes(channel, round);
            int acknowledged = 0;
            var running = Task.Run(async () =>
            {
                foreach (var change in changes)
                {
                    await change.Call().WaitAsync(CallLimit);
                    acknowledged++;
                }
            });

            await Task.WhenAny(running, Task.Delay(random.Next(5, 300)));
            await target.KillAsync();
            try
            {
                await running.WaitAsync(CallLimit);
            }
            catch (Exception e) when (e is RpcException or TaskCanceledException or HttpRequestException or IOException)
            {
                // The call the kill interrupted.
            }

            output.WriteLine($"round {round}: killed after {acknowledged} of {changes.Count} changes");
            var acked = changes.Take(acknowledged).Aggregate(model, (m, c) => c.Apply(m));
            var withNext = acknowledged < changes.Count ? changes[acknowledged].Apply(acked) : acked;
            await target.StartAgainAsync().WaitAsync(TimeSpan.FromSeconds(40));
            using var after = ControlPlaneChannel.Create(client);
            var observed = await ObserveAsync(after);
            Assert.True(observed.SameAs(acked) || observed.SameAs(withNext),
                $"round {round}: {acknowledged} of {changes.Count} changes acknowledged; found {observed}; expected {acked} or, with '{(acknowledged < changes.Count ? changes[acknowledged].Name : "-")}' whole, {withNext}");
            foreach (var volume in observed.Volumes.Keys)
            {
                // Every volume in the catalog has its file, at least as long as the catalog says (a grow killed before its commit may leave it longer).
                Assert.True(new FileInfo(Path.Combine(target.DataDirectory, volume + ".img")).Length >= (long)observed.Volumes[volume], $"volume {volume}'s file is short");
            }

            model = observed;
        }
    }

    /// <summary>A round's changes: make a volume and a subsystem exporting it, grow it, admit a host; drop the previous round's.</summary>
    private static List<Change> Changes(Grpc.Net.Client.GrpcChannel channel, int round)
    {
        var volumes = new Volumes.VolumesClient(channel);
        var subsystems = new NovaStor.ControlPlane.V1.Subsystems.SubsystemsClient(channel);
        string volume = $"crash-{round}", nqn = $"nqn.2026-12.io.novastor.crash:r{round}", host = $"nqn.2026-12.io.novastor.host:r{round}";
        string previousVolume = $"crash-{round - 1}", previousNqn = $"nqn.2026-12.io.novastor.crash:r{round - 1}";
        var changes = new List<Change>
        {
            new("create volume", async () => await volumes.CreateVolumeAsync(new CreateVolumeRequest { Name = volume, SizeBytes = 16 << 20 }),
                m => m with { Volumes = With(m.Volumes, volume, 16UL << 20) }),
            new("create subsystem", async () => await subsystems.CreateSubsystemAsync(new CreateSubsystemRequest { Nqn = nqn }),
                m => m with { Subsystems = With(m.Subsystems, nqn, ("", "")) }),
            new("add namespace", async () => await subsystems.AddNamespaceAsync(new AddNamespaceRequest { SubsystemNqn = nqn, Volume = volume }),
                m => m with { Subsystems = With(m.Subsystems, nqn, (m.Subsystems[nqn].Hosts, volume)) }),
            new("grow volume", async () => await volumes.ResizeVolumeAsync(new ResizeVolumeRequest { Name = volume, SizeBytes = 48 << 20 }),
                m => m with { Volumes = With(m.Volumes, volume, 48UL << 20) }),
            new("add host", async () => await subsystems.AddHostAsync(new HostRequest { SubsystemNqn = nqn, HostNqn = host }),
                m => m with { Subsystems = With(m.Subsystems, nqn, (host, m.Subsystems[nqn].Namespaces)) }),
        };
        if (round > 0)
        {
            changes.Add(new("delete previous volume (forced)", async () => await volumes.DeleteVolumeAsync(new DeleteVolumeRequest { Name = previousVolume, Force = true }),
                m => m with
                {
                    Volumes = Without(m.Volumes, previousVolume),
                    Subsystems = m.Subsystems.ToDictionary(s => s.Key, s => s.Value.Namespaces == previousVolume ? (s.Value.Hosts, "") : s.Value),
                }));
            changes.Add(new("delete previous subsystem", async () => await subsystems.DeleteSubsystemAsync(new DeleteSubsystemRequest { Nqn = previousNqn, Force = true }),
                m => m with { Subsystems = Without(m.Subsystems, previousNqn) }));
        }

        return changes;
    }

    private static async Task<NodeModel> ObserveAsync(Grpc.Net.Client.GrpcChannel channel)
    {
        // The NVMe port answers first; wait for the control plane's endpoint too (bounded by the deadline).
        var call = new CallOptions(deadline: DateTime.UtcNow.Add(CallLimit)).WithWaitForReady();
        var volumes = await new Volumes.VolumesClient(channel).ListVolumesAsync(new ListVolumesRequest(), call);
        var subsystems = await new NovaStor.ControlPlane.V1.Subsystems.SubsystemsClient(channel).ListSubsystemsAsync(new ListSubsystemsRequest(), call);
        return new NodeModel(
            volumes.Volumes.Where(v => v.Name != "default").ToDictionary(v => v.Name, v => v.SizeBytes),
            subsystems.Subsystems.Where(s => !s.Static).ToDictionary(s => s.Nqn, s => (string.Join(",", s.AllowedHosts), string.Join(",", s.Namespaces.Select(n => n.Volume)))));
    }

    private static Dictionary<string, T> With<T>(IReadOnlyDictionary<string, T> map, string key, T value) => new(map) { [key] = value };

    private static Dictionary<string, T> Without<T>(IReadOnlyDictionary<string, T> map, string key) => map.Where(e => e.Key != key).ToDictionary(e => e.Key, e => e.Value);
}
