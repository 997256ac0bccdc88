using System.CommandLine;
using NovaStor.Protocol.Authentication;

namespace NovaStor.Cli.Commands;

/// <summary>
/// gen-dhchap-key: a new DH-HMAC-CHAP secret in the DHHC-1 form the target's configuration, this
/// CLI's --dhchap-secret and the Linux host's nvme connect all read (nvme-cli's gen-dhchap-key,
/// for machines without nvme-cli, such as the target's container).
/// </summary>
internal static class GenDhchapKeyCommand
{
    public static Command Create(CliContext context)
    {
        var keyLength = new Option<int>("--key-length", "-l")
        {
            Description = "Key length in bytes: 32, 48 or 64",
            DefaultValueFactory = _ => 32,
            HelpName = "bytes",
        };
        keyLength.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is not (32 or 48 or 64))
            {
                result.AddError("--key-length must be 32, 48 or 64");
            }
        });
        var hmac = new Option<int>("--hmac", "-m")
        {
            Description = "Transformation hash of the key (the XX in DHHC-1:XX:): 0 none, 1 SHA-256, 2 SHA-384, 3 SHA-512",
            DefaultValueFactory = _ => 0,
            CustomParser = Numbers.Parser(0, 3, "--hmac"),
            HelpName = "0-3",
        };
        var command = new Command("gen-dhchap-key", "Print a new random DH-HMAC-CHAP secret (DHHC-1:XX:...:) for a host entry or --dhchap-secret")
        {
            keyLength,
            hmac,
        };
        command.SetAction(async (result, token) =>
        {
            using var secret = DhchapSecret.Generate(result.GetValue(keyLength), (byte)result.GetValue(hmac));
            await context.Out.WriteLineAsync(secret.Format()).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
