using System.Net;
using System.Net.Sockets;
using NovaStor.Initiator.Transport;
using Xunit;
using static NovaStor.Initiator.Transport.LinuxSocketNative;

namespace NovaStor.Initiator.Tests;

/// <summary>
/// The Linux transport's libc calls on a real loopback connection: what each returns and when.
/// Linux only, like the transport itself; elsewhere they fail rather than pass unchecked.
/// </summary>
public sealed unsafe class LinuxSocketNativeTests : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Socket _client = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Socket _server;

    public LinuxSocketNativeTests()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen();
        _client.Connect(_listener.LocalEndPoint!);
        _server = _listener.Accept();
    }

    private static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    [Fact]
    public void Receive_now_reports_eagain_when_nothing_is_there_and_zero_at_end_of_stream()
    {
        byte* buffer = stackalloc byte[16];
        Assert.Equal(-1, ReceiveNow(Fd(_client), buffer, 16, out int errno));
        Assert.Equal(EAGAIN, errno);

        _server.Shutdown(SocketShutdown.Send);
        Assert.True(WaitReadable(Fd(_client), 5000), "end of stream never became readable");
        Assert.Equal(0, ReceiveNow(Fd(_client), buffer, 16, out _));
    }

    [Fact]
    public void Send_now_gathers_pieces_in_order()
    {
        byte[] first = [1, 2, 3], second = [4, 5], third = [6, 7, 8, 9];
        fixed (byte* a = first)
        fixed (byte* b = second)
        fixed (byte* c = third)
        {
            var vectors = stackalloc IoVector[3];
            vectors[0] = new IoVector { Base = a, Length = 3 };
            vectors[1] = new IoVector { Base = b, Length = 2 };
            vectors[2] = new IoVector { Base = c, Length = 4 };
            Assert.Equal(9, SendNow(Fd(_client), vectors, 3, out _));
        }

        var received = new byte[9];
        int got = 0;
        while (got < 9)
        {
            got += _server.Receive(received, got, 9 - got, SocketFlags.None);
        }

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, received);
    }

    [Fact]
    public void Send_now_stops_at_a_full_buffer_with_eagain_and_goes_on_once_the_peer_reads()
    {
        _client.SendBufferSize = 4096;
        _server.ReceiveBufferSize = 4096;
        var chunk = new byte[64 * 1024];
        long accepted = 0;
        int errno = 0;
        fixed (byte* data = chunk)
        {
            var vector = new IoVector { Base = data, Length = (nuint)chunk.Length };
            for (int i = 0; i < 1000; i++)
            {
                nint sent = SendNow(Fd(_client), &vector, 1, out errno);
                if (sent < 0)
                {
                    break;
                }

                accepted += sent;
            }

            Assert.Equal(EAGAIN, errno);
            Assert.True(accepted > 0 && accepted < 1000L * chunk.Length, $"{accepted} bytes accepted");

            // The peer drains: POLLOUT comes back and the socket takes more.
            var drain = new byte[256 * 1024];
            _server.Blocking = false;
            Assert.True(PollFor(Fd(_client), POLLOUT, () =>
            {
                try
                {
                    _server.Receive(drain);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
                {
                }
            }), "POLLOUT never came back");
            Assert.True(SendNow(Fd(_client), &vector, 1, out _) > 0);
        }
    }

    [Fact]
    public void Poll_times_out_then_wakes_on_a_signalled_eventfd_which_drain_resets()
    {
        int eventFd = CreateEventFd(out int errno);
        Assert.True(eventFd >= 0, $"eventfd: errno {errno}");
        try
        {
            var descriptors = stackalloc PollDescriptor[2];
            descriptors[0] = new PollDescriptor { Descriptor = Fd(_client), Events = POLLIN };
            descriptors[1] = new PollDescriptor { Descriptor = eventFd, Events = POLLIN };
            Assert.Equal(0, Poll(descriptors, 2, 10, out _));

            Signal(eventFd);
            Assert.Equal(1, Poll(descriptors, 2, 1000, out _));
            Assert.Equal(POLLIN, descriptors[1].ReturnedEvents);
            Assert.Equal(0, descriptors[0].ReturnedEvents);

            Drain(eventFd);
            descriptors[1].ReturnedEvents = 0;
            Assert.Equal(0, Poll(descriptors, 2, 10, out _));
        }
        finally
        {
            LinuxSocketNative.Close(eventFd);
        }
    }

    private static bool WaitReadable(int fd, int timeoutMs)
    {
        var descriptor = new PollDescriptor { Descriptor = fd, Events = POLLIN };
        return Poll(&descriptor, 1, timeoutMs, out _) == 1;
    }

    private static bool PollFor(int fd, short events, Action meanwhile)
    {
        for (int attempt = 0; attempt < 500; attempt++)
        {
            meanwhile();
            var descriptor = new PollDescriptor { Descriptor = fd, Events = events };
            if (Poll(&descriptor, 1, 10, out _) == 1 && (descriptor.ReturnedEvents & events) != 0)
            {
                return true;
            }
        }

        return false;
    }

    public void Dispose()
    {
        _server.Dispose();
        _client.Dispose();
        _listener.Dispose();
    }
}
