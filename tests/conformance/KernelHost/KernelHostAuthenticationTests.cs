using NovaStor.ControlPlane;
using NovaStor.ControlPlane.V1;
using NovaStor.Protocol.Authentication;
using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Conformance.KernelHost;

/// <summary>
/// The Linux 6.12 host authenticates to our target with DH-HMAC-CHAP (nvme connect
/// --dhchap-secret / --dhchap-ctrl-secret): each hash function, ffdhe2048 and the null group,
/// bidirectional; a wrong or missing secret and a wrong controller secret are refused. Two hosts
/// are configured in the target's settings, the bidirectional one over the control plane (AddHost,
/// on a subsystem created there).
/// </summary>
[Collection(KernelHostCollection.Name)]
public sealed class KernelHostAuthenticationTests(NewerGuestImage guest, ITestOutputHelper output)
{
    private const string Nqn = "nqn.2026-12.io.novastor.test:authenticated";
    private const string RpcNqn = "nqn.2026-12.io.novastor.test:authenticated-rpc";

    [Fact]
    public async Task Linux_host_authenticates_with_each_hash_and_group_and_bidirectionally_and_is_refused_without_the_right_secret()
    {
        var hosts = new[]
        {
            (Id: Guid.NewGuid(), Secret: DhchapSecret.Generate(), Controller: (DhchapSecret?)null, Hash: (string?)null, Group: (string?)null),
            (Id: Guid.NewGuid(), Secret: DhchapSecret.Generate(48, 2), Controller: null, Hash: "sha384", Group: "null"),
            (Id: Guid.NewGuid(), Secret: DhchapSecret.Generate(64, 3), Controller: DhchapSecret.Generate(32, 1), Hash: "sha512", Group: "ffdhe2048"),
        };
        int controlPort = RunningTarget.FreePort();
        var arguments = new List<string>
        {
            $"--NovaStor:Subsystems:0:Nqn={Nqn}",
            "--NovaStor:Subsystems:0:Namespaces:0:Volume=authenticated",
            "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=268435456",
            "--NovaStor:ControlPlane:Enabled=true",
            $"--NovaStor:ControlPlane:Port={controlPort}",
        };
        var variables = new Dictionary<string, string> { ["NQN_RPC"] = RpcNqn };
        for (int i = 0; i < hosts.Length; i++)
        {
            var host = hosts[i];
            string hostNqn = $"nqn.2014-08.org.nvmexpress:uuid:{host.Id}";
            variables[$"HOST{i + 1}"] = hostNqn;
            variables[$"HOSTID{i + 1}"] = host.Id.ToString();
            variables[$"SECRET{i + 1}"] = $"'{host.Secret.Format()}'";
            if (host.Controller is { } controller)
            {
                variables[$"CTRL_SECRET{i + 1}"] = $"'{controller.Format()}'";
            }

            if (i == hosts.Length - 1)
            {
                continue; // added over the control plane below
            }

            string prefix = $"--NovaStor:Subsystems:0:Hosts:{i}:";
            arguments.Add($"{prefix}Nqn={hostNqn}");
            arguments.Add($"{prefix}DhchapSecret={host.Secret.Format()}");
            if (host.Hash is { } hash)
            {
                arguments.Add($"{prefix}DhchapHash={hash}");
            }

            if (host.Group is { } group)
            {
                arguments.Add($"{prefix}DhchapGroup={group}");
            }
        }

        await using var target = await RunningTarget.StartAsync([.. arguments]);
        var last = hosts[^1];
        using (var channel = ControlPlaneChannel.Create(ControlPlaneClientOptions.FromDirectory(
            new Uri($"https://127.0.0.1:{controlPort}"), CertificateFiles.DevelopmentDirectory(target.DataDirectory))))
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            await new Volumes.VolumesClient(channel).CreateVolumeAsync(new CreateVolumeRequest { Name = "authenticated-rpc", SizeBytes = 256 << 20 }, deadline: deadline);
            var subsystems = new Subsystems.SubsystemsClient(channel);
            await subsystems.CreateSubsystemAsync(new CreateSubsystemRequest { Nqn = RpcNqn }, deadline: deadline);
            await subsystems.AddNamespaceAsync(new AddNamespaceRequest { SubsystemNqn = RpcNqn, Volume = "authenticated-rpc" }, deadline: deadline);
            await subsystems.AddHostAsync(new HostRequest
            {
                SubsystemNqn = RpcNqn,
                HostNqn = variables["HOST3"],
                DhchapSecret = last.Secret.Format(),
                DhchapControllerSecret = last.Controller!.Format(),
                DhchapHash = last.Hash!,
                DhchapGroup = last.Group!,
            }, deadline: deadline);
        }

        var run = await new KernelHostScenario(guest, output).RunAsync("authentication.sh", target, variables: variables, nqn: Nqn);
        Assert.True(run.ExitCode == 0, $"authentication.sh failed in the guest.\n{run.Describe()}");
        Assert.Contains("NOVASTOR-SCENARIO-OK", run.Console, StringComparison.Ordinal);
        Assert.True(run.KernelIoErrors.Count == 0, $"the guest kernel logged I/O errors:\n{string.Join('\n', run.KernelIoErrors)}");
    }
}
