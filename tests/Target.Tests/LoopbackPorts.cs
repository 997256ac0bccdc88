using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace NovaStor.Target.Tests;

/// <summary>
/// Loopback ports for the listeners tests start (targets, control planes, QEMU's forwards), picked
/// below the kernel's ephemeral range.
/// </summary>
/// <remarks>
/// A port from bind(0) comes from the range the kernel also takes source ports from for outgoing
/// connections. Released so that the target can bind it, it may meanwhile become the source port
/// of any process's connect() (the suite has many in flight), and the target's bind then fails
/// with "address already in use" (CI saw exactly that). connect() never takes a port below the
/// range; a probe bind checks that nothing else listens there now. Each test process walks the
/// ports from its own random start, so that parallel test processes rarely meet.
/// </remarks>
public static class LoopbackPorts
{
    // Below 16384 are well-known and registered services (4420, 8009 ...); above is ours to try.
    private const int LowestPort = 16384;
    private const int Attempts = 200;

    private static readonly (int First, int Count) Range = OutsideEphemeralRange();
    private static int s_next = Random.Shared.Next(Range.Count);

    /// <summary>A loopback TCP port nothing listens on now, outside the ephemeral range when it can be.</summary>
    public static int Free()
    {
        if (Range.Count == 0)
        {
            return KernelChosen();
        }

        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            int port = Range.First + (int)((uint)Interlocked.Increment(ref s_next) % (uint)Range.Count);
            if (IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free loopback port in {Range.First}..{Range.First + Range.Count - 1} after {Attempts} tries.");
    }

    private static bool IsFree(int port)
    {
        using var probe = new TcpListener(IPAddress.Loopback, port);
        try
        {
            probe.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int KernelChosen()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>[16384, the ephemeral range's first port), or empty when the range starts lower.</summary>
    private static (int First, int Count) OutsideEphemeralRange()
    {
        string text;
        try
        {
            text = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            text = "";
        }

        // "FIRST<tab>LAST"; the kernel's default range starts at 32768.
        string first = text.Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        int ephemeralFirst = int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) ? parsed : 32768;
        return (LowestPort, Math.Max(0, ephemeralFirst - LowestPort));
    }
}
