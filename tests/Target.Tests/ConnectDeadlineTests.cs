using System.Diagnostics;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// A connection that never says anything holds a socket and a queue's buffers: the target closes
/// one that sends no ICReq, or no Connect after its ICResp, within NovaStor:ConnectTimeoutSeconds
/// (10 s by default; 1 s here), and leaves connected queues alone.
/// </summary>
public sealed class ConnectDeadlineTests
{
    [Fact]
    public async Task Silent_connections_are_closed_after_the_deadline_and_connected_hosts_are_not()
    {
        await using var target = await RunningTarget.StartAsync("--NovaStor:ConnectTimeoutSeconds=1");
        await using var bystander = await Bystander.StartAsync(target, 710_000);

        // No ICReq at all.
        await using var silent = await RawConnection.OpenAsync(target.EndPoint);
        // ICReq answered, then no Connect.
        await using var initialized = await RawConnection.OpenAsync(target.EndPoint);
        await initialized.InitializeAsync();

        var elapsed = Stopwatch.StartNew();
        Assert.Empty(await silent.ReadUntilClosedAsync(TimeSpan.FromSeconds(10)));
        Assert.Empty(await initialized.ReadUntilClosedAsync(TimeSpan.FromSeconds(10)));
        Assert.True(elapsed.Elapsed >= TimeSpan.FromSeconds(0.5), $"closed after {elapsed.Elapsed}: before the deadline");

        // The host that connected long before the deadline passed keeps working.
        await bystander.VerifyIoAsync();
    }

    [Theory]
    [InlineData("--NovaStor:ConnectTimeoutSeconds=0", "NovaStor:ConnectTimeoutSeconds 0 is outside 1..600.")]
    [InlineData("--NovaStor:ConnectTimeoutSeconds=601", "NovaStor:ConnectTimeoutSeconds 601 is outside 1..600.")]
    public async Task A_connect_timeout_out_of_range_stops_start_up_naming_it(string setting, string expected)
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => RunningTarget.StartAsync(setting));
        Assert.Contains(expected, failure.Message, StringComparison.Ordinal);
    }
}
