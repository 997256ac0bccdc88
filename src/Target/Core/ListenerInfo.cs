using System.Net;
using System.Net.Sockets;

namespace NovaStor.Target.Core;

/// <summary>Where a queue was accepted: reported in discovery log entries.</summary>
/// <param name="Address">The address hosts should use (the listener's, or the connection's local address for a wildcard listener).</param>
/// <param name="IsIPv6">Address family: IPv6 when true, IPv4 otherwise.</param>
internal sealed record ListenerInfo(string Address, int Port, bool IsIPv6, ushort PortId = 1)
{
    /// <summary>
    /// This listener as hosts are told to reach it: at <paramref name="advertised"/> when one is
    /// configured (same port), with the address family following that address, not the socket's.
    /// </summary>
    public ListenerInfo AdvertisedAs(IPAddress? advertised) => advertised is null
        ? this
        : this with
        {
            Address = (advertised.IsIPv4MappedToIPv6 ? advertised.MapToIPv4() : advertised).ToString(),
            IsIPv6 = advertised.AddressFamily == AddressFamily.InterNetworkV6 && !advertised.IsIPv4MappedToIPv6,
        };
}
