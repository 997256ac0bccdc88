using System.Text.Json;
using NovaStor.Initiator.Discovery;
using NovaStor.Target.Tests;
using Xunit;

namespace NovaStor.Cli.Tests;

/// <summary>discover, connect, id-ctrl and id-ns against the in-process target's default subsystem (1 GiB, 512-byte blocks).</summary>
public sealed class IdentifyCommandTests(CliTarget shared) : IClassFixture<CliTarget>
{
    private string Port => shared.Target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Discover_lists_the_subsystem_in_text_and_json()
    {
        var text = await Harness.RunAsync("discover", "-a", "127.0.0.1", "-s", Port);
        Harness.Succeeded(text);
        Assert.Contains("Discovery Log Number of Records", text.Out, StringComparison.Ordinal);
        Assert.Contains($"subnqn:  {RunningTarget.DefaultNqn}", text.Out, StringComparison.Ordinal);
        Assert.Contains("subtype: nvme subsystem", text.Out, StringComparison.Ordinal);
        Assert.Contains($"trsvcid: {Port}", text.Out, StringComparison.Ordinal);

        var json = await Harness.RunAsync("discover", "-a", "127.0.0.1", "-s", Port, "-n", NvmeDiscovery.DiscoveryNqn, "-o", "json");
        Harness.Succeeded(json);
        using var doc = JsonDocument.Parse(json.Out);
        var records = doc.RootElement.GetProperty("records").EnumerateArray().ToList();
        Assert.Contains(records, r => r.GetProperty("subnqn").GetString() == RunningTarget.DefaultNqn && r.GetProperty("trtype").GetString() == "tcp");
    }

    [Fact]
    public async Task Connect_prints_the_summary_and_disconnects()
    {
        var run = await shared.RunAsync("connect", "-i", "2");
        Harness.Succeeded(run);
        Assert.Contains($"subnqn    : {RunningTarget.DefaultNqn}", run.Out, StringComparison.Ordinal);
        Assert.Matches(@"model     : \S", run.Out);
        Assert.Matches(@"serial    : \S", run.Out);
        Assert.Matches(@"cntlid    : \d+", run.Out);
        Assert.Contains("io queues : 2 (asked for 2)", run.Out, StringComparison.Ordinal);
        Assert.Contains("namespaces: 1", run.Out, StringComparison.Ordinal);
        Assert.Matches(@"\n  1\s+1\.00 GiB\s+512\s+\d+\s+[0-9a-f]{32}\n", run.Out);
        Assert.Contains("disconnected", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_with_a_second_path_connects_two_controllers_of_the_subsystem()
    {
        // A second path to the same port is a second controller of the same subsystem and namespaces.
        string path = "127.0.0.1:" + shared.Target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var run = await shared.RunAsync("connect", "--path", path);
        Harness.Succeeded(run);
        Assert.Contains("paths     : 2", run.Out, StringComparison.Ordinal);
        var ids = System.Text.RegularExpressions.Regex.Matches(run.Out, @"(?m)^  127\.0\.0\.1:\d+ cntlid (\d+) Live$").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(2, ids.Length);
        Assert.NotEqual(ids[0], ids[1]);
    }

    [Fact]
    public async Task Id_ctrl_prints_text_and_json()
    {
        var text = await shared.RunAsync("id-ctrl");
        Harness.Succeeded(text);
        Assert.Contains($"subnqn    : {RunningTarget.DefaultNqn}", text.Out, StringComparison.Ordinal);
        Assert.Matches(@"mdts      : [1-9]", text.Out);

        var json = await shared.RunAsync("id-ctrl", "-o", "json");
        Harness.Succeeded(json);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal(RunningTarget.DefaultNqn, doc.RootElement.GetProperty("subnqn").GetString());
        Assert.True(doc.RootElement.GetProperty("cntlid").GetInt32() > 0);
        Assert.True(doc.RootElement.GetProperty("nn").GetInt64() >= 1);
    }

    [Fact]
    public async Task Id_ns_prints_text_and_json()
    {
        var text = await shared.RunAsync("id-ns", "-N", "1");
        Harness.Succeeded(text);
        Assert.Contains("nsze     : 0x200000 (1.00 GiB)", text.Out, StringComparison.Ordinal);
        Assert.Contains("lbads    : 9 (512 bytes)", text.Out, StringComparison.Ordinal);

        var json = await shared.RunAsync("id-ns", "-o", "json");
        Harness.Succeeded(json);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal((1UL << 30) / 512, doc.RootElement.GetProperty("nsze").GetUInt64());
        Assert.Equal(512, doc.RootElement.GetProperty("block_size").GetInt32());
        Assert.Equal(32, doc.RootElement.GetProperty("nguid").GetString()!.Length);
    }

    [Fact]
    public async Task An_inactive_namespace_is_one_line_and_exit_1()
    {
        var run = await shared.RunAsync("id-ns", "-N", "7");
        Assert.Equal(ExitCodes.NvmeStatus, run.ExitCode);
        Assert.Contains("namespace 7 is not active", run.Error, StringComparison.Ordinal);
        Harness.NoStackTrace(run);
    }
}
