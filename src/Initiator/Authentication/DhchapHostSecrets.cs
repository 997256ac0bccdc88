using NovaStor.Protocol.Authentication;

namespace NovaStor.Initiator.Authentication;

/// <summary>
/// The host's DH-HMAC-CHAP secrets for one subsystem: its own (it proves it holds it), and
/// optionally the controller's (the controller must prove it holds that one: bidirectional
/// authentication). nvme-cli's <c>--dhchap-secret</c> and <c>--dhchap-ctrl-secret</c>.
/// </summary>
public sealed record DhchapHostSecrets(DhchapSecret HostSecret, DhchapSecret? ControllerSecret = null)
{
    /// <summary>Parses the DHHC-1 texts; a <see cref="FormatException"/> says what is wrong without showing the key.</summary>
    public static DhchapHostSecrets Parse(string hostSecret, string? controllerSecret = null) =>
        new(DhchapSecret.Parse(hostSecret), string.IsNullOrEmpty(controllerSecret) ? null : DhchapSecret.Parse(controllerSecret));
}
