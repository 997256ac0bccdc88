using System.Net;
using NovaStor.Initiator;
using Xunit;

namespace NovaStor.Target.Tests.Observability;

/// <summary>
/// The Prometheus endpoint of a running target, scraped over HTTP while a host does I/O: the
/// counters and the latency histogram move between two scrapes; the gauges describe the target.
/// </summary>
public sealed class MetricsEndpointTests : IAsyncLifetime
{
    private const string Nqn = RunningTarget.DefaultNqn;

    private static readonly (string, string)[] Namespace1 = [("subsystem", Nqn), ("nsid", "1"), ("volume", "metrics")];

    private readonly HttpClient _http = new() { Timeout = Bounded.Limit };
    private RunningTarget _target = null!;
    private int _metricsPort;

    public async Task InitializeAsync()
    {
        _metricsPort = RunningTarget.FreePort();
        _target = await RunningTarget.StartAsync(
            "--NovaStor:Metrics:Enabled=true", $"--NovaStor:Metrics:Port={_metricsPort}",
            "--NovaStor:Subsystems:0:Nqn=" + Nqn,
            "--NovaStor:Subsystems:0:AllowAnyHost=true",
            "--NovaStor:Subsystems:0:Namespaces:0:Id=1",
            "--NovaStor:Subsystems:0:Namespaces:0:Volume=metrics",
            "--NovaStor:Subsystems:0:Namespaces:0:SizeBytes=67108864");
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _target.DisposeAsync();
    }

    [Fact]
    public async Task Two_scrapes_during_io_show_the_counters_and_the_histogram_moving()
    {
        await using var controller = await HostController.ConnectAsync(_target.EndPoint, Nqn, HostIdentity.Create()).Within();
        var queue = await controller.ConnectIoQueueAsync(1).Within();
        using var stop = new CancellationTokenSource(Bounded.Limit);
        long done = 0;
        var io = Task.Run(async () =>
        {
            var data = Nvme.RandomBytes(4096, 1);
            for (int i = 0; i < 100_000 && !stop.IsCancellationRequested; i++)
            {
                await queue.WriteAsync((ulong)(i % 1024) * 8, data);
                await queue.ReadAsync((ulong)(i % 1024) * 8, 4096);
                Interlocked.Add(ref done, 2);
            }
        });

        try
        {
            await WaitUntilAsync(() => Interlocked.Read(ref done) >= 20);
            string first = await ScrapeAsync();
            long before = Interlocked.Read(ref done);
            await WaitUntilAsync(() => Interlocked.Read(ref done) >= before + 20);
            string second = await ScrapeAsync();

            foreach (string op in new[] { "read", "write" })
            {
                double commands1 = PrometheusText.Value(first, "novastor_io_commands_total", [.. Namespace1, ("op", op)]);
                double commands2 = PrometheusText.Value(second, "novastor_io_commands_total", [.. Namespace1, ("op", op)]);
                Assert.True(commands1 >= 10, $"{op}: {commands1} commands at the first scrape");
                Assert.True(commands2 >= commands1 + 10, $"{op}: {commands1} then {commands2} commands");
                double bytes1 = PrometheusText.Value(first, "novastor_io_bytes_total", [.. Namespace1, ("op", op)]);
                double bytes2 = PrometheusText.Value(second, "novastor_io_bytes_total", [.. Namespace1, ("op", op)]);
                Assert.True(bytes2 > bytes1, $"{op}: {bytes1} then {bytes2} bytes");
            }

            Assert.Equal(0, PrometheusText.Value(second, "novastor_io_errors_total", Namespace1));

            // The histogram: cumulative buckets, +Inf equal to the count, the count moving with the commands.
            double count1 = PrometheusText.Value(first, "novastor_io_latency_seconds_count", Namespace1);
            double count2 = PrometheusText.Value(second, "novastor_io_latency_seconds_count", Namespace1);
            Assert.True(count2 >= count1 + 20, $"latency count {count1} then {count2}");
            var buckets = PrometheusText.Samples(second, "novastor_io_latency_seconds_bucket", Namespace1).ToList();
            Assert.Equal(22, buckets.Count);
            Assert.True(buckets.Zip(buckets.Skip(1)).All(pair => pair.First <= pair.Second), "buckets are not cumulative");
            Assert.Equal(count2, buckets[^1]);
            Assert.Equal(count2, PrometheusText.Value(second, "novastor_io_latency_seconds_bucket", [.. Namespace1, ("le", "+Inf")]));
            Assert.True(PrometheusText.Value(second, "novastor_io_latency_seconds_sum", Namespace1) > 0);
            Assert.Contains("# TYPE novastor_io_latency_seconds histogram\n", second, StringComparison.Ordinal);
            Assert.Contains("# TYPE novastor_io_commands_total counter\n", second, StringComparison.Ordinal);

            // What runs, and what is connected.
            var info = PrometheusText.Samples(second, "novastor_target_info").ToList();
            Assert.Equal([1.0], info);
            Assert.Matches("novastor_target_info\\{engine=\"(IoUring|Aio|Fallback)\",transport=\"(IoUring|Epoll|Sockets)\",version=\"[0-9.]+\"\\} 1", second);
            Assert.Equal(1, PrometheusText.Value(second, "novastor_controllers", ("subsystem", Nqn)));
            Assert.Equal(1, PrometheusText.Value(second, "novastor_io_queues", ("subsystem", Nqn)));
            Assert.Single(PrometheusText.Samples(second, "novastor_engine_requests_in_flight"));
            Assert.Equal(64 << 20, PrometheusText.Value(second, "novastor_volume_size_bytes", ("volume", "metrics")));
            Assert.True(PrometheusText.Value(second, "novastor_volume_allocated_bytes", ("volume", "metrics")) > 0);
        }
        finally
        {
            await stop.CancelAsync();
            await io.Within();
        }
    }

    [Fact]
    public async Task The_endpoint_speaks_http_1_1_and_answers_only_for_its_own_port()
    {
        using var response = await _http.GetAsync(new Uri($"http://127.0.0.1:{_metricsPort}/metrics")).Within();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);

        // The same request naming another port (as a request to another endpoint of the host would) is not served.
        using var elsewhere = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{_metricsPort}/metrics"));
        elsewhere.Headers.Host = $"127.0.0.1:{_target.Port}";
        using var refused = await _http.SendAsync(elsewhere).Within();
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
    }

    private async Task<string> ScrapeAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://127.0.0.1:{_metricsPort}/metrics"));
        // What Prometheus sends: the exporter is asked for OpenMetrics first and must still answer in the text format.
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2");
        using var response = await _http.SendAsync(request).Within();
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bounded.Limit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the I/O did not progress in time");
            await Task.Delay(10);
        }
    }
}
