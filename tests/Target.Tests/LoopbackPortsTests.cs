using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace NovaStor.Target.Tests;

/// <summary>
/// The ports tests give their listeners: outside the range connect() takes source ports from, so
/// that no other process's connection can take one between the pick and the bind.
/// </summary>
public sealed class LoopbackPortsTests
{
    private static readonly int EphemeralFirst = int.Parse(
        File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0],
        CultureInfo.InvariantCulture);

    [Fact]
    public void Ports_are_below_the_ephemeral_range_distinct_and_bindable()
    {
        int[] ports = Enumerable.Range(0, 20).Select(_ => LoopbackPorts.Free()).ToArray();

        Assert.All(ports, port => Assert.InRange(port, 16384, EphemeralFirst - 1));
        Assert.Equal(ports.Length, ports.Distinct().Count());
        foreach (int port in ports)
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }

    [Fact]
    public void A_port_someone_listens_on_is_never_given()
    {
        // Hold every port the next picks would probe: the picker must step over all of them.
        int first = LoopbackPorts.Free();
        var held = new List<TcpListener>();
        try
        {
            for (int port = first + 1; port <= first + 10 && port < EphemeralFirst; port++)
            {
                var listener = new TcpListener(IPAddress.Loopback, port);
                try
                {
                    listener.Start();
                    held.Add(listener);
                }
                catch (SocketException)
                {
                    listener.Dispose(); // someone else's already: just as good for this test
                }
            }

            int next = LoopbackPorts.Free();
            Assert.DoesNotContain(next, held.Select(l => ((IPEndPoint)l.LocalEndpoint).Port));
        }
        finally
        {
            held.ForEach(l => l.Dispose());
        }
    }
}
