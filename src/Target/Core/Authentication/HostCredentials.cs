using NovaStor.Protocol.Authentication;

namespace NovaStor.Target.Core.Authentication;

/// <summary>
/// What a subsystem's host entry says about DH-HMAC-CHAP: the host's secret (the host proves it
/// knows it), optionally the controller's secret (the controller proves it too, when the host asks:
/// bidirectional authentication), and which hash function and DH group the controller picks from
/// what the host offers (null: the first the host offers, and ffdhe2048 when offered).
/// </summary>
/// <remarks>
/// Disposing zeroes the keys: only for an entry nothing else holds (one read to be checked). A
/// subsystem's replaced entries are left to the collector, since a queue may be authenticating
/// with them.
/// </remarks>
internal sealed record HostCredentials(DhchapSecret HostSecret, DhchapSecret? ControllerSecret, DhchapHash? Hash, DhchapGroup? Group) : IDisposable
{
    /// <summary>The group picked when none is configured: a key exchange by default, the smallest (fastest) one.</summary>
    public const DhchapGroup DefaultGroup = DhchapGroup.Ffdhe2048;

    /// <summary>
    /// Reads a host entry's secrets and choices, as the configuration, the control plane and
    /// exports.json give them (text). Null with <paramref name="problem"/> saying what is wrong,
    /// never showing a secret.
    /// </summary>
    public static HostCredentials? TryCreate(string? hostSecret, string? controllerSecret, string? hash, string? group, out string? problem)
    {
        if (string.IsNullOrWhiteSpace(hostSecret))
        {
            problem = string.IsNullOrWhiteSpace(controllerSecret)
                ? "no DH-HMAC-CHAP host secret is given"
                : "a controller secret is given without a host secret (bidirectional authentication needs both)";
            return null;
        }

        if (!DhchapSecret.TryParse(hostSecret, out var host, out string? hostProblem))
        {
            problem = $"the host secret is not a DH-HMAC-CHAP secret: {hostProblem}";
            return null;
        }

        DhchapSecret? controller = null;
        if (!string.IsNullOrWhiteSpace(controllerSecret))
        {
            if (!DhchapSecret.TryParse(controllerSecret, out controller, out string? controllerProblem))
            {
                host!.Dispose();
                problem = $"the controller secret is not a DH-HMAC-CHAP secret: {controllerProblem}";
                return null;
            }

            if (controller!.SameAs(host!))
            {
                host!.Dispose();
                controller.Dispose();
                problem = "the controller secret must differ from the host secret (the Linux host refuses the pair)";
                return null;
            }
        }

        DhchapHash? pickedHash = null;
        if (!string.IsNullOrWhiteSpace(hash))
        {
            if (!DhchapHashes.TryParse(hash, out var parsed))
            {
                problem = $"the hash '{hash}' is not sha256, sha384 or sha512";
                return null;
            }

            pickedHash = parsed;
        }

        DhchapGroup? pickedGroup = null;
        if (!string.IsNullOrWhiteSpace(group))
        {
            if (!DhchapGroups.TryParse(group, out var parsed))
            {
                problem = $"the DH group '{group}' is not null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144 or ffdhe8192";
                return null;
            }

            pickedGroup = parsed;
        }

        problem = null;
        return new HostCredentials(host!, controller, pickedHash, pickedGroup);
    }

    /// <summary>The hash to use from those offered, or null when none fits.</summary>
    public DhchapHash? PickHash(IReadOnlyList<DhchapHash> offered)
    {
        if (Hash is { } wanted)
        {
            return offered.Contains(wanted) ? wanted : null;
        }

        return offered.Count > 0 ? offered[0] : null;
    }

    /// <summary>The DH group to use from those offered, or null when none fits.</summary>
    public DhchapGroup? PickGroup(IReadOnlyList<DhchapGroup> offered)
    {
        if (Group is { } wanted)
        {
            return offered.Contains(wanted) ? wanted : null;
        }

        if (offered.Contains(DefaultGroup))
        {
            return DefaultGroup;
        }

        return offered.Count > 0 ? offered[0] : null;
    }

    /// <summary>The DHHC-1 text of the secrets and the names of the choices, for exports.json.</summary>
    public (string HostSecret, string? ControllerSecret, string? Hash, string? Group) Describe() =>
        (HostSecret.Format(), ControllerSecret?.Format(), Hash is { } hash ? DhchapHashes.Name(hash) : null, Group is { } group ? DhchapGroups.Name(group) : null);

    public void Dispose()
    {
        HostSecret.Dispose();
        ControllerSecret?.Dispose();
    }
}
