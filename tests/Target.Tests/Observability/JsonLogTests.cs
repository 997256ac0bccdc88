using System.Text.Json;
using NovaStor.Initiator;
using Xunit;

namespace NovaStor.Target.Tests.Observability;

/// <summary>Console output is process-wide: the test that captures it runs alone.</summary>
[CollectionDefinition(nameof(ConsoleCapture), DisableParallelization = true)]
public sealed class ConsoleCapture;

/// <summary>NovaStor:LogFormat=Json writes one JSON object per line, with the messages' named values as properties.</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class JsonLogTests
{
    [Fact]
    public async Task Json_log_lines_carry_the_controller_and_queue_ids_as_properties()
    {
        var original = Console.Out;
        using var captured = new CapturedOutput();
        // The console logger takes Console.Out when the target is built: capture before that.
        Console.SetOut(captured);
        try
        {
            await using var target = await RunningTarget.StartAsync("--NovaStor:LogFormat=Json", "--Logging:LogLevel:NovaStor=Debug");
            await using var controller = await HostController.ConnectAsync(target.EndPoint, RunningTarget.DefaultNqn, HostIdentity.Create()).Within();
            await controller.ConnectIoQueueAsync(1).Within();

            // The console logger writes on a thread of its own: wait for the I/O queue's Connect (event 3).
            JsonElement? connected = null;
            var deadline = DateTime.UtcNow + Bounded.Limit;
            while (connected is null)
            {
                Assert.True(DateTime.UtcNow < deadline, $"no JSON line for the I/O queue's Connect; output:\n{captured.Text}");
                await Task.Delay(20);
                foreach (var line in captured.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    using var json = JsonDocument.Parse(line); // every line is one JSON object
                    var root = json.RootElement;
                    if (root.GetProperty("EventId").GetInt32() == 3 && root.GetProperty("Category").GetString()!.StartsWith("NovaStor.Target.", StringComparison.Ordinal)
                        && root.GetProperty("State").TryGetProperty("ControllerId", out var id) && id.GetInt32() == controller.ControllerId)
                    {
                        connected = root.Clone();
                    }
                }
            }

            var state = connected.Value.GetProperty("State");
            Assert.Equal(JsonValueKind.Number, state.GetProperty("ControllerId").ValueKind);
            Assert.Equal(1, state.GetProperty("QueueId").GetInt32());
            Assert.Equal(RunningTarget.DefaultNqn, state.GetProperty("Subsystem").GetString());
            Assert.Equal("Debug", connected.Value.GetProperty("LogLevel").GetString());
            Assert.Contains($"of controller {controller.ControllerId}", connected.Value.GetProperty("Message").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            Console.SetOut(original);
        }
    }

    /// <summary>Console output written from any thread, read whole writes at a time.</summary>
    private sealed class CapturedOutput : StringWriter
    {
        private readonly Lock _lock = new();

        public string Text
        {
            get
            {
                lock (_lock)
                {
                    return ToString();
                }
            }
        }

        public override void Write(char value)
        {
            lock (_lock)
            {
                base.Write(value);
            }
        }

        public override void Write(string? value)
        {
            lock (_lock)
            {
                base.Write(value);
            }
        }

        public override void Write(char[] buffer, int index, int count)
        {
            lock (_lock)
            {
                base.Write(buffer, index, count);
            }
        }

        public override void Write(ReadOnlySpan<char> buffer)
        {
            lock (_lock)
            {
                base.Write(buffer);
            }
        }
    }
}
