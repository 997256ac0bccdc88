using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;

namespace NovaStor.Target.Hosting;

/// <summary>
/// <c>NOVASTOR_LISTEN_ADDRESS</c>: the NVMe/TCP listen address for containers and service managers
/// (the image sets it to 0.0.0.0). It only replaces the built-in default of
/// <c>NovaStor:ListenAddress</c> (127.0.0.1): it is added as the lowest-priority configuration
/// source, so the key set anywhere (appsettings.json, <c>NovaStor__ListenAddress</c>, the command
/// line) wins over it, and <c>NovaStor:Listeners</c> replaces both. That way an image's default
/// never overrides what a mounted configuration file says.
/// </summary>
public static class ListenAddressVariable
{
    public const string Name = "NOVASTOR_LISTEN_ADDRESS";

    /// <summary>The configuration key it supplies a value for.</summary>
    public const string Key = TargetOptions.Section + ":" + nameof(TargetOptions.ListenAddress);

    /// <summary>
    /// Adds <paramref name="value"/> (the variable's value; null or blank: nothing) beneath every
    /// source <paramref name="configuration"/> has or gets later.
    /// </summary>
    /// <exception cref="InvalidOperationException">The value is not an IP address.</exception>
    public static void AddTo(IConfigurationBuilder configuration, string? value)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (string.IsNullOrWhiteSpace(value))
        {
            return;
        }

        string address = value.Trim();
        if (!IPAddress.TryParse(address, out _))
        {
            throw new InvalidOperationException($"{Name} '{address}' is not an IP address (for example 0.0.0.0, :: or 192.0.2.10).");
        }

        configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = [new(Key, address)] });
    }
}
