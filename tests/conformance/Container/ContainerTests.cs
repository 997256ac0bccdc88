using System.Diagnostics;
using NovaStor.Conformance.KernelHost;
using NovaStor.Target.Tests;
using Xunit;
using Xunit.Abstractions;

namespace NovaStor.Conformance.Container;

/// <summary>
/// The image the repository's Dockerfile builds, run with podman on the host's network (listening
/// on 127.0.0.1 only), served to the Linux kernel host in the QEMU guest: discovery, fio with
/// verify, ext4 with checksums, and the data back after the container is replaced by a new one on
/// the same data volume. Once with the shipped seccomp profile (io_uring allowed), once with a copy
/// of Docker's default (io_uring denied, as Docker 25.0.4+ and containerd 2.0 ship it); and the
/// image's health check. In the kernel-host collection: guests boot one at a time.
/// </summary>
[Collection(KernelHostCollection.Name)]
public sealed class ContainerTests(GuestImage guest, ContainerImage image, ITestOutputHelper output) : IClassFixture<ContainerImage>
{
    private static string ShippedProfile => Path.Combine(RepositoryPaths.Root, "deploy", "seccomp-novastor.json");

    private static string DockerDefaultProfile => Path.Combine(RepositoryPaths.Root, "tests", "container", "seccomp-default-docker.json");

    [Fact]
    public async Task Image_serves_the_linux_host_on_io_uring_and_keeps_its_data_across_a_new_container()
    {
        // Registered buffers within the 8 MiB locked-memory limit a container gets here (two
        // reactors of 2 MiB): a larger slab is refused and logged, and I/O runs without it.
        await using var target = await TargetContainer.StartAsync(image.Tag,
            "--security-opt", $"seccomp={ShippedProfile}", "-e", "NovaStor__RegisteredBufferMegabytes=2");
        string firstLog = target.CurrentLogs;
        output.WriteLine(firstLog);
        Assert.Contains("Block engine: io_uring reactors", firstLog, StringComparison.Ordinal);
        Assert.Contains("NVMe/TCP transport: io_uring reactors", firstLog, StringComparison.Ordinal);
        Assert.DoesNotContain("registering buffers was refused", firstLog, StringComparison.Ordinal);

        await RunScenarioAsync(target, "container.sh (io_uring)");

        // The second container found the volume, the catalog and the certificates the first made.
        Assert.Contains(TargetContainer.ListeningLine, target.CurrentLogs, StringComparison.Ordinal);
        Assert.DoesNotContain("Created development certificates", target.CurrentLogs, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(target.DataDirectory, "catalog.json")), "no catalog.json in the data volume");
        Assert.True(File.Exists(Path.Combine(target.DataDirectory, "default.img")), "no default.img in the data volume");
    }

    [Fact]
    public async Task Without_io_uring_the_image_says_why_falls_back_and_serves_the_same_scenario()
    {
        await using var target = await TargetContainer.StartAsync(image.Tag, "--security-opt", $"seccomp={DockerDefaultProfile}");
        string log = target.CurrentLogs;
        output.WriteLine(log);
        Assert.Contains("io_uring is unavailable", log, StringComparison.Ordinal);
        Assert.Contains("EPERM", log, StringComparison.Ordinal);
        Assert.Contains("seccomp", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Block engine: io_uring reactors", log, StringComparison.Ordinal);
        // Docker's default profile still allows io_setup/io_submit: the fallback is native AIO with
        // the queues run to completion on its reactors (epoll), and the log names the fix.
        Assert.Contains("Block engine: Linux native AIO", log, StringComparison.Ordinal);
        Assert.Contains("deploy/seccomp-novastor.json", log, StringComparison.Ordinal);
        Assert.Contains("native AIO reactors with epoll", log, StringComparison.Ordinal);
        Assert.DoesNotContain("positional I/O", log, StringComparison.Ordinal);

        await RunScenarioAsync(target, "container.sh (io_uring blocked by seccomp)");
        Assert.Contains("io_uring is unavailable", target.CurrentLogs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_check_is_healthy_while_serving_and_unhealthy_while_the_target_is_stopped()
    {
        var inspect = await Podman.CheckedAsync(TimeSpan.FromMinutes(1), "image", "inspect", "--format", "{{json .Config.Healthcheck}}", image.Tag);
        Assert.Contains("discover", inspect, StringComparison.Ordinal);

        await using var target = await TargetContainer.StartAsync(image.Tag);
        await WaitForHealthAsync(target, healthy: true, TimeSpan.FromSeconds(60));

        // SIGSTOP: the listening socket still accepts (the kernel does), but nothing answers.
        await target.SignalAsync("STOP");
        try
        {
            await WaitForHealthAsync(target, healthy: false, TimeSpan.FromSeconds(60));
        }
        finally
        {
            await target.SignalAsync("CONT");
        }

        await WaitForHealthAsync(target, healthy: true, TimeSpan.FromSeconds(60));
    }

    /// <summary>
    /// The DaemonSet's security context (deploy/daemonset.yaml) as podman options: root with every
    /// capability dropped but IPC_LOCK, a read-only root file system with /tmp in memory, no new
    /// privileges, the shipped seccomp profile. The default 32 MiB of registered buffers per
    /// reactor are granted (IPC_LOCK, beyond the 8 MiB RLIMIT_MEMLOCK here) and the target serves.
    /// </summary>
    [Fact]
    public async Task The_daemonset_security_context_runs_io_uring_with_registered_buffers()
    {
        await using var target = await TargetContainer.StartAsync(image.Tag, 0,
            "--user", "0:0", "--cap-drop", "ALL", "--cap-add", "IPC_LOCK", "--read-only", "--tmpfs", "/tmp",
            "--security-opt", "no-new-privileges", "--security-opt", $"seccomp={ShippedProfile}");
        output.WriteLine(target.CurrentLogs);
        Assert.Contains("Block engine: io_uring reactors", target.CurrentLogs, StringComparison.Ordinal);
        Assert.Contains("buffers of 131072 bytes registered with the ring", target.CurrentLogs, StringComparison.Ordinal);
        Assert.DoesNotContain("registering buffers was refused", target.CurrentLogs, StringComparison.Ordinal);
        var (code, text) = await target.HealthCheckAsync();
        Assert.True(code == 0, $"health check: exit {code} {text}");
    }

    /// <summary>
    /// appsettings.json mounted at /etc/novastor (the image's working directory) configures the
    /// target, and its ListenAddress wins over NOVASTOR_LISTEN_ADDRESS (::1 here: loopback, like every
    /// address these tests bind, and one the target would bind if the variable wrongly won).
    /// </summary>
    [Fact]
    public async Task A_mounted_appsettings_json_configures_the_target_and_its_listen_address_wins_over_the_variable()
    {
        string folder = Path.Combine(Path.GetTempPath(), "novastor-settings-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string settings = Path.Combine(folder, "appsettings.json");
            await File.WriteAllTextAsync(settings, """
                { "NovaStor": { "ListenAddress": "127.0.0.1", "Subsystems": [ { "Nqn": "nqn.2026-12.io.novastor.test:mounted", "AllowAnyHost": true,
                  "Namespaces": [ { "Id": 1, "Volume": "mounted", "SizeBytes": 16777216 } ] } ] } }
                """);
            await using var target = await TargetContainer.StartAsync(image.Tag,
                "-v", $"{settings}:/etc/novastor/appsettings.json:ro", "-e", "NOVASTOR_LISTEN_ADDRESS=::1");
            output.WriteLine(target.CurrentLogs);
            string variable = await Podman.CheckedAsync(TimeSpan.FromMinutes(1), "exec", target.Name, "printenv", "NOVASTOR_LISTEN_ADDRESS");
            Assert.Equal("::1", variable.Trim());
            Assert.Contains($"NVMe/TCP listening on 127.0.0.1:{target.Port}.", target.CurrentLogs, StringComparison.Ordinal);
            Assert.Contains("Serving nqn.2026-12.io.novastor.test:mounted namespace 1", target.CurrentLogs, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(target.DataDirectory, "mounted.img")), "the configured volume is not in the data volume");
            var (code, text) = await target.HealthCheckAsync();
            Assert.True(code == 0, $"health check: exit {code} {text}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The two profiles differ in io_uring only: Linux native AIO stays allowed under both.</summary>
    [Fact]
    public async Task Docker_default_profile_denies_io_uring_with_EPERM_and_allows_native_aio_and_the_shipped_one_allows_both()
    {
        // perl (in every Debian base) makes the raw system calls: io_uring_setup (425), io_setup
        // (206), io_submit (209) with no iocbs, io_destroy (207); x86-64 numbers.
        const string Probe = """
            $p = "\0" x 120; $! = 0; $r = syscall(425, 1, $p); printf "io_uring_setup=%d errno=%d\n", $r, $! + 0;
            $ctx = pack("Q", 0); $! = 0; $r = syscall(206, 8, $ctx); printf "io_setup=%d errno=%d\n", $r, $! + 0;
            $c = unpack("Q", $ctx); $! = 0; $r = syscall(209, $c, 0, 0); printf "io_submit=%d errno=%d\n", $r, $! + 0;
            syscall(207, $c);
            """;
        async Task<string> RunUnder(string profile)
        {
            string text = await Podman.CheckedAsync(TimeSpan.FromMinutes(1),
            [
                "run", "--rm", "--network", "none", .. Podman.Limits, "--user", "1654:1654",
                "--security-opt", $"seccomp={profile}", image.BaseImage, "perl", "-e", Probe,
            ]);
            output.WriteLine($"{Path.GetFileName(profile)}:\n{text}");
            return text;
        }

        string blocked = await RunUnder(DockerDefaultProfile);
        Assert.Contains("io_uring_setup=-1 errno=1\n", blocked, StringComparison.Ordinal);
        Assert.Contains("io_setup=0 errno=0", blocked, StringComparison.Ordinal);
        Assert.Contains("io_submit=0 errno=0", blocked, StringComparison.Ordinal);

        string shipped = await RunUnder(ShippedProfile);
        Assert.Matches(@"io_uring_setup=[0-9]+ errno=0", shipped);
        Assert.Contains("io_setup=0 errno=0", shipped, StringComparison.Ordinal);
        Assert.Contains("io_submit=0 errno=0", shipped, StringComparison.Ordinal);
    }

    /// <summary>container.sh in one guest boot; its restart marker replaces the container (same data folder).</summary>
    private async Task RunScenarioAsync(TargetContainer target, string name)
    {
        var run = await new KernelHostScenario(guest, output).RunAsync("container.sh", name, target.Port, RunningTarget.DefaultNqn, target.DataDirectory,
            async () =>
            {
                output.WriteLine("[host] replacing the container (same data volume)");
                await target.ReplaceAsync(TimeSpan.FromSeconds(3));
                output.WriteLine($"[host] new container {target.Name} listening");
            });
        output.WriteLine(target.Logs + target.CurrentLogs);
        Assert.True(run.ExitCode == 0, $"container.sh failed in the guest.\n{run.Describe()}\n{target.Logs}");
        Assert.Contains("NOVASTOR-SCENARIO-OK", run.Console, StringComparison.Ordinal);
        Assert.True(run.KernelIoErrors.Count == 0, $"the guest kernel logged errors:\n{string.Join('\n', run.KernelIoErrors)}");
    }

    private async Task WaitForHealthAsync(TargetContainer target, bool healthy, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var (code, text) = await target.HealthCheckAsync();
            output.WriteLine($"[{clock.Elapsed.TotalSeconds:F1} s] podman healthcheck run: exit {code} {text.Trim()}");
            if ((code == 0) == healthy)
            {
                return;
            }

            Assert.True(clock.Elapsed < limit, $"the health check did not turn {(healthy ? "healthy" : "unhealthy")} within {limit.TotalSeconds} s; last: exit {code} {text}");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }
}
