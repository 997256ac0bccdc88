namespace NovaStor.Target.Core;

/// <summary>Where a queue was accepted: reported in discovery log entries.</summary>
/// <param name="Address">The address hosts should use (the listener's, or the connection's local address for a wildcard listener).</param>
/// <param name="IsIPv6">Address family: IPv6 when true, IPv4 otherwise.</param>
internal sealed record ListenerInfo(string Address, int Port, bool IsIPv6, ushort PortId = 1);
