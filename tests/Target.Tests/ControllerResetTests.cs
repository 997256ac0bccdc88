using Xunit;
using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.Protocol;
using NovaStor.Target.Core;

namespace NovaStor.Target.Tests;

/// <summary>
/// The controller model without sockets, where transport timing can be held still: a reset must
/// free the I/O queue ids at once, whenever the old connections get round to closing.
/// </summary>
public sealed class ControllerResetTests
{
    private const uint Enabled = 1 | (6u << 4) | (6u << 16) | (4u << 20);

    /// <summary>A transport that records Disconnect and, like a real one, detaches only later.</summary>
    private sealed class SlowTransport : IQueueTransport
    {
        public int Disconnects;

        public void Complete(NvmeRequest request)
        {
        }

        public void Disconnect(string reason) => Interlocked.Increment(ref Disconnects);

        public string RemoteEndPoint => "test";
    }

    private static QueueSession Session(SubsystemRegistry registry, IQueueTransport transport) =>
        new(registry, transport, new ListenerInfo("127.0.0.1", 4420, false), new RequestTable(4, 4096), new TargetLimits(), TimeProvider.System, NullLogger.Instance);

    /// <summary>What the transport does when it writes the responses of <paramref name="count"/> successful commands.</summary>
    private static void Completed(QueueSession queue, byte opcode, int count, int bytesEach)
    {
        using var request = new NvmeRequest(0, 4096);
        request.Reset(new SubmissionQueueEntry { Opcode = opcode });
        request.DataLength = bytesEach;
        for (int i = 0; i < count; i++)
        {
            queue.CountCompletion(request);
        }
    }

    private static (long ReadCommands, long WriteCommands, long BytesRead, long BytesWritten) Smart(Controller controller)
    {
        var counted = controller.SmartCounters();
        return (counted.ReadCommands, counted.WriteCommands, counted.BytesRead, counted.BytesWritten);
    }

    [Fact]
    public void A_reset_frees_the_io_queue_ids_at_once_and_keeps_counting_the_closing_queues()
    {
        var subsystem = new Subsystem("nqn.2026-11.io.novastor:unit", allowAnyHost: true, [], []);
        var registry = new SubsystemRegistry([subsystem]);
        using var controller = subsystem.CreateController(id => new Controller(id, subsystem, "nqn.2014-08.org.nvmexpress:uuid:unit", Guid.NewGuid(), 0, TimeProvider.System, NullLogger.Instance))!;
        Assert.True(controller.TryAttach(0, Session(registry, new SlowTransport())));
        controller.SetConfiguration(Enabled, then => then());
        var oldTransport = new SlowTransport();
        var old = Session(registry, oldTransport);
        old.Bind(controller, 1, 31, sqFlowControlDisabled: false);
        Assert.True(controller.TryAttach(1, old));
        Completed(old, IoOpcode.Write, 5, 4096);

        controller.SetConfiguration(Enabled & ~1u, then => then());
        Assert.Equal((0L, 5L, 0L, 5L * 4096), Smart(controller)); // still closing: still counted
        Assert.False(controller.IsReady);
        Assert.Equal(1, oldTransport.Disconnects);
        controller.SetConfiguration(Enabled, then => then());

        // The old connection has not closed yet; the host reconnects QID 1 anyway.
        var fresh = Session(registry, new SlowTransport());
        fresh.Bind(controller, 1, 31, sqFlowControlDisabled: false);
        Assert.True(controller.TryAttach(1, fresh), "QID 1 still taken by a queue the reset disconnected");

        // The old queue's late detach must not evict the new one, nor count it twice or forget it.
        Completed(fresh, IoOpcode.Read, 2, 512);
        controller.Detach(1, old);
        Assert.Equal((2L, 5L, 1024L, 5L * 4096), Smart(controller));
        Assert.False(controller.TryAttach(1, Session(registry, new SlowTransport())));
        Assert.Contains(fresh, controller.ConnectedQueues());
        Assert.DoesNotContain(old, controller.ConnectedQueues());
    }
}
