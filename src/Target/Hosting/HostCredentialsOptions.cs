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

            string? hostSecret = SecretText(where, "DhchapSecret", host.DhchapSecret, host.DhchapSecretFile);
            if (string.IsNullOrWhiteSpace(hostSecret))
            {
                throw new InvalidOperationException($"{where}: set DhchapSecret (or DhchapSecretFile); a host entry exists to require authentication.");
            }

            string? controllerSecret = SecretText(where, "DhchapControllerSecret", host.DhchapControllerSecret, host.DhchapControllerSecretFile);
            var entry = HostCredentials.TryCreate(hostSecret, controllerSecret, host.DhchapHash, host.DhchapGroup, out string? entryProblem)
                ?? throw new InvalidOperationException($"{where}: {entryProblem}.");
            credentials.Add(host.Nqn, entry);
        }

        return credentials;
    }

    private static string? SecretText(string where, string name, string? inline, string? file)
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

        return text;
    }
}
