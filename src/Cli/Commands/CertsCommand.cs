using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text;
using NovaStor.ControlPlane;

namespace NovaStor.Cli.Commands;

/// <summary>
/// certs create: the control plane's mutual TLS in one step, a CA with a server and a client
/// certificate it issued, in the file layout the target reads (NovaStor:ControlPlane:CertificateDirectory)
/// and the control plane commands present.
/// </summary>
internal static class CertsCommand
{
    public static Command Create(CliContext context) => new("certs", "Certificates for the target's gRPC control plane (mutual TLS)")
    {
        CreateCommand(context),
    };

    private static Command CreateCommand(CliContext context)
    {
        var directory = new Argument<string>("DIR") { Description = "The folder to write into (created, owner-only, if it does not exist)" };
        var names = new Option<SubjectAlternativeName[]>("--san")
        {
            Description = "A name the server certificate is valid for, dns:NAME or ip:ADDRESS; repeat for more. These and no others; "
                + "without any, the loopback names a local target answers to (ip:127.0.0.1, ip:::1, dns:localhost)",
            CustomParser = ParseNames,
            HelpName = "dns:NAME|ip:ADDRESS",
        };
        var days = new Option<int>("--days")
        {
            Description = $"Days the server and client certificates are valid (the CA: {CertificateSetOptions.CaYears} years)",
            DefaultValueFactory = _ => CertificateSetOptions.DefaultLeafDays,
            CustomParser = Numbers.Parser(1, 3650, "--days"),
            HelpName = "n",
        };
        var clientName = new Option<string>("--client-name")
        {
            Description = "The client certificate's subject CN",
            DefaultValueFactory = _ => CertificateSetOptions.DefaultClientName,
            HelpName = "name",
        };
        var force = new Option<bool>("--force") { Description = "Replace files a previous run left in DIR (the target and every client then need the new ones)" };
        var command = new Command(
            "create",
            "Create a CA, a server certificate (EKU serverAuth) and a client certificate (EKU clientAuth), ECDSA P-256, "
            + "as ca.pem, ca-key.pem, server.pem, server-key.pem, client.pem and client-key.pem in DIR, each readable by its owner only (0600). "
            + "Existing files are left alone unless --force")
        {
            directory,
            names,
            days,
            clientName,
            force,
        };
        command.SetAction((result, token) => Failures.GuardAsync(context, "certs create", async () =>
        {
            string folder = Path.GetFullPath(result.GetValue(directory)!);
            bool replace = result.GetValue(force);
            var existing = CertificateSet.Existing(folder);
            if (existing.Count > 0 && !replace)
            {
                throw new CliUsageException($"{folder} already holds {string.Join(", ", existing)}; nothing written. Pass --force to replace them.");
            }

            string client = result.GetValue(clientName)!;
            if (string.IsNullOrWhiteSpace(client) || client.Contains(',', StringComparison.Ordinal) || client.Contains('=', StringComparison.Ordinal))
            {
                throw new CliUsageException($"--client-name '{client}' is not usable as a CN (empty, or with ',' or '=').");
            }

            var serverNames = result.GetValue(names) is { Length: > 0 } given ? given : SubjectAlternativeName.Loopback;
            var options = new CertificateSetOptions { ServerNames = serverNames, LeafDays = result.GetValue(days), ClientName = client };
            using var set = CertificateSet.Create(options);
            set.WriteTo(folder, replace);
            await context.Out.WriteAsync(Report(folder, set, serverNames)).ConfigureAwait(false);
            return ExitCodes.Success;
        }, token));
        return command;
    }

    private static string Report(string folder, CertificateSet set, IReadOnlyList<SubjectAlternativeName> serverNames)
    {
        static string Until(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) =>
            certificate.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"certs create: wrote {CertificateFiles.All.Count} files to {folder}, each readable by its owner only (0600):\n");
        s.Append(CultureInfo.InvariantCulture, $"  {CertificateFiles.CaCertificate,-15} the CA: {set.Ca.Subject}, valid until {Until(set.Ca)}\n");
        s.Append(CultureInfo.InvariantCulture, $"  {CertificateFiles.CaKey,-15} the CA's private key: whoever holds it can make client certificates the target accepts; keep it off the target\n");
        s.Append(CultureInfo.InvariantCulture, $"  {CertificateFiles.ServerCertificate,-15} the server certificate for {string.Join(", ", serverNames)}, valid until {Until(set.Server)}\n");
        s.Append(CultureInfo.InvariantCulture, $"  {CertificateFiles.ServerKey,-15} its private key\n");
        s.Append(CultureInfo.InvariantCulture, $"  {CertificateFiles.ClientCertificate,-15} the client certificate: {set.Client.Subject}, valid until {Until(set.Client)}\n");
        s.Append(CultureInfo.InvariantCulture, $"  {CertificateFiles.ClientKey,-15} its private key\n");
        s.Append("Start the target with these (it reads ca.pem, server.pem and server-key.pem):\n");
        s.Append(CultureInfo.InvariantCulture, $"  --NovaStor:ControlPlane:CertificateDirectory={folder}\n");
        s.Append(CultureInfo.InvariantCulture, $"  (or NovaStor__ControlPlane__CertificateDirectory={folder} in its environment)\n");
        s.Append("and --NovaStor:ControlPlane:Address=ADDRESS to listen beyond loopback; clients dial one of the server certificate's names.\n");
        s.Append(CultureInfo.InvariantCulture, $"Clients present {CertificateFiles.ClientCertificate} with {CertificateFiles.ClientKey} and trust {CertificateFiles.CaCertificate}.\n");
        return s.ToString();
    }

    private static SubjectAlternativeName[] ParseNames(ArgumentResult result)
    {
        var parsed = new List<SubjectAlternativeName>();
        foreach (var token in result.Tokens)
        {
            try
            {
                parsed.Add(SubjectAlternativeName.Parse(token.Value));
            }
            catch (FormatException ex)
            {
                result.AddError($"--san: {ex.Message}");
            }
        }

        return [.. parsed];
    }
}
