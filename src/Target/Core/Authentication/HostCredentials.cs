using NovaStor.Protocol.Authentication;

namespace NovaStor.Target.Core.Authentication;

/// <summary>
/// What a subsystem's host entry says about DH-HMAC-CHAP: the host's secret (the host proves it
/// knows it), optionally the controller's secret (the controller proves it too, when the host asks:
/// bidirectional authentication), and which hash function and DH group the controller picks from
/// what the host offers (null: the first the host offers, and ffdhe2048 when offered).
/// </summary>
internal sealed record HostCredentials(DhchapSecret HostSecret, DhchapSecret? ControllerSecret, DhchapHash? Hash, DhchapGroup? Group)
{
    /// <summary>The group picked when none is configured: a key exchange by default, the smallest (fastest) one.</summary>
    public const DhchapGroup DefaultGroup = DhchapGroup.Ffdhe2048;

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
}
