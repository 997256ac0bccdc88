using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using NovaStor.BlockEngine.Reactors;

namespace NovaStor.BlockEngine.Tests;

/// <summary>
/// The reactor's poll-before-sleep: the ring tells a poller that work waits without a system call
/// (TASKRUN_FLAG with DEFER_TASKRUN), and the learnt budget spins only while it catches work.
/// </summary>
public sealed class SpinBeforeSleepTests
{
    private static readonly long OneMicrosecond = Stopwatch.Frequency / 1_000_000;

    [Fact]
    public unsafe void The_ring_shows_a_socket_completion_waiting_without_being_entered()
    {
        using IoUring ring = RingTestExtensions.CreateRing(8);
        Assert.True((ring.SetupFlags & IoUringNative.IORING_SETUP_TASKRUN_FLAG) != 0, IoUring.FormatSetupFlags(ring.SetupFlags));
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);
        using var server = listener.Accept();
        byte* buffer = stackalloc byte[16];

        ring.NextEntry()->PrepareReceive((int)server.SafeHandle.DangerousGetHandle(), (nint)buffer, 16, 0, 42);
        _ = ring.Submit();
        Assert.False(ring.HasPendingWork, "work shown before any data arrived");

        client.Send([1, 2, 3]);
        var deadline = Stopwatch.StartNew();
        while (!ring.HasPendingWork && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.SpinWait(100);
        }

        Assert.True(ring.HasPendingWork, "the arrived data never showed in the ring's flags");
        var completion = ring.SubmitAndWaitOne();
        Assert.Equal(42ul, completion.UserData);
        Assert.Equal(3, completion.Result);
        Assert.False(ring.HasPendingWork);
    }

    [Fact]
    public void A_zero_allowance_never_polls()
    {
        var spin = new SpinBeforeSleep(maxMicroseconds: 0);
        for (int i = 0; i < 1000; i++)
        {
            spin.Slept();
            Assert.Equal(0, spin.BudgetTicks);
        }
    }

    [Fact]
    public void The_budget_follows_caught_waits_and_dies_out_when_it_only_sleeps()
    {
        var spin = new SpinBeforeSleep(maxMicroseconds: 30);
        Assert.Equal(0, spin.BudgetTicks); // a new reactor sleeps at once

        for (int i = 0; i < 128; i++)
        {
            spin.Slept();
        }

        long full = spin.BudgetTicks;
        Assert.InRange(full, 29 * OneMicrosecond, 31 * OneMicrosecond); // probing at the full allowance

        spin.Caught(3 * OneMicrosecond);
        Assert.InRange(spin.BudgetTicks, 11 * OneMicrosecond, 13 * OneMicrosecond); // four times what it caught

        int sleeps = 0;
        while (spin.BudgetTicks > 0)
        {
            spin.Slept();
            sleeps++;
        }

        Assert.InRange(sleeps, 1, 4); // a few wasted polls, then none
        spin.Caught(100 * OneMicrosecond);
        Assert.Equal(full, spin.BudgetTicks); // never beyond the allowance
    }
}
