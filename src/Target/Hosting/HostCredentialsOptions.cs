using NovaStor.Protocol.Authentication;
using NovaStor.Target.Core;
using NovaStor.Target.Core.Authentication;

namespace NovaStor.Target.Hosting;

/// <summary>Reads a subsystem's <see cref="SubsystemHostOptions"/> into credentials; a bad entry stops the start with a message that never shows a secret.</summary>
internal static class HostCredentialsOptions
{
    public static Dictionary<string, HostCredentials> Read(SubsystemOptions subsystem)
    {
        var credentials = new Dictionary<string, HostCredentials>(StringComparer.Ordinal);
        foreach (var host in subsystem.Hosts)
        {
            string where = $"Subsystem {subsystem.Nqn} host {host.Nqn}";
            if (NqnRules.Problem(host.Nqn) is { } problem)
            {
                throw new InvalidOperationException($"{where}: {problem}");
            }

            if (credentials.ContainsKey(host.Nqn))
            {
                throw new InvalidOperationException($"{where}: listed twice in Hosts.");
            }

            var hostSecret = Secret(where, "DhchapSecret", host.DhchapSecret, host.DhchapSecretFile)
                ?? throw new InvalidOperationException($"{where}: set DhchapSecret (or DhchapSecretFile); a host entry exists to require authentication.");
            var controllerSecret = Secret(where, "DhchapControllerSecret", host.DhchapControllerSecret, host.DhchapControllerSecretFile);
            if (controllerSecret is not null && controllerSecret.SameAs(hostSecret))
            {
                throw new InvalidOperationException($"{where}: the controller secret must differ from the host secret (the Linux host refuses the pair).");
            }

            DhchapHash? hash = null;
            if (!string.IsNullOrWhiteSpace(host.DhchapHash))
            {
                hash = DhchapHashes.TryParse(host.DhchapHash, out var parsed) ? parsed
                    : throw new InvalidOperationException($"{where}: DhchapHash '{host.DhchapHash}' is not sha256, sha384 or sha512.");
            }

            DhchapGroup? group = null;
            if (!string.IsNullOrWhiteSpace(host.DhchapGroup))
            {
                group = DhchapGroups.TryParse(host.DhchapGroup, out var parsed) ? parsed
                    : throw new InvalidOperationException($"{where}: DhchapGroup '{host.DhchapGroup}' is not null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144 or ffdhe8192.");
            }

            credentials.Add(host.Nqn, new HostCredentials(hostSecret, controllerSecret, hash, group));
        }

        return credentials;
    }

    private static DhchapSecret? Secret(string where, string name, string? inline, string? file)
    {
        if (!string.IsNullOrWhiteSpace(inline) && !string.IsNullOrWhiteSpace(file))
        {
            throw new InvalidOperationException($"{where}: set {name} or {name}File, not both.");
        }

        string? text = inline;
        if (!string.IsNullOrWhiteSpace(file))
        {
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"{where}: cannot read {name}File {file}: {ex.Message}", ex);
            }
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return DhchapSecret.TryParse(text, out var secret, out string? problem) ? secret
            : throw new InvalidOperationException($"{where}: {name} is not a DH-HMAC-CHAP secret: {problem}.");
    }
}
