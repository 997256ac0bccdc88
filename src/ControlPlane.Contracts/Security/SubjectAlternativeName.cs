using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace NovaStor.ControlPlane;

/// <summary>A name a server certificate is valid for: a DNS name or an IP address.</summary>
public sealed record SubjectAlternativeName
{
    private SubjectAlternativeName(string? dnsName, IPAddress? address)
    {
        DnsName = dnsName;
        Address = address;
    }

    public string? DnsName { get; }

    public IPAddress? Address { get; }

    /// <summary>What a development server answers to: 127.0.0.1, ::1 and localhost.</summary>
    public static IReadOnlyList<SubjectAlternativeName> Loopback { get; } = [Ip(IPAddress.Loopback), Ip(IPAddress.IPv6Loopback), Dns("localhost")];

    public static SubjectAlternativeName Dns(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (Uri.CheckHostName(name) != UriHostNameType.Dns && !IsWildcard(name))
        {
            throw new FormatException($"'{name}' is not a DNS name.");
        }

        return new(name, null);
    }

    public static SubjectAlternativeName Ip(IPAddress address) => new(null, address ?? throw new ArgumentNullException(nameof(address)));

    /// <summary>Parses <c>dns:NAME</c> or <c>ip:ADDRESS</c>.</summary>
    /// <exception cref="FormatException">Neither form, or a value that is not a name or an address.</exception>
    public static SubjectAlternativeName Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        string kind = colon < 0 ? string.Empty : text[..colon];
        string value = colon < 0 ? string.Empty : text[(colon + 1)..];
        if (kind.Equals("dns", StringComparison.OrdinalIgnoreCase) && value.Length > 0)
        {
            return Dns(value);
        }

        if (kind.Equals("ip", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.TryParse(value, out var address) ? Ip(address) : throw new FormatException($"'{value}' is not an IP address.");
        }

        throw new FormatException($"'{text}' is neither dns:NAME nor ip:ADDRESS.");
    }

    public override string ToString() => Address is { } address ? $"ip:{address}" : $"dns:{DnsName}";

    internal void AddTo(SubjectAlternativeNameBuilder builder)
    {
        if (Address is { } address)
        {
            builder.AddIpAddress(address);
        }
        else
        {
            builder.AddDnsName(DnsName!);
        }
    }

    private static bool IsWildcard(string name) => name.StartsWith("*.", StringComparison.Ordinal) && Uri.CheckHostName(name[2..]) == UriHostNameType.Dns;
}
