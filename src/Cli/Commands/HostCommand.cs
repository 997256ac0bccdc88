using System.CommandLine;
using NovaStor.Cli.Output;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Commands;

/// <summary>host: which hosts a subsystem admits (add, remove, allow-any).</summary>
internal static class HostCommand
{
    public static Command Create(CliContext context) => new("host", "Manage the hosts a subsystem admits, over the target's control plane")
    {
        Add(context),
        Remove(context),
        AllowAny(context),
    };

    private static Argument<string> HostNqn() => new("hostnqn") { Description = "The host's NQN" };

    private static Command Add(CliContext context)
    {
        var nqn = SubsystemCommand.Nqn();
        var host = HostNqn();
        var secret = new Option<string?>("--dhchap-secret")
        {
            Description = "The host must authenticate (DH-HMAC-CHAP) with this secret (DHHC-1:XX:...:, as gen-dhchap-key prints); replaces the secrets it had",
            HelpName = "secret",
        };
        var controllerSecret = new Option<string?>("--dhchap-ctrl-secret")
        {
            Description = "The controller's secret, for bidirectional authentication; needs --dhchap-secret",
            HelpName = "secret",
        };
        var hash = new Option<string?>("--dhchap-hash") { Description = "Insist on this hash: sha256, sha384 or sha512 (default: the host's first offer)", HelpName = "hash" };
        var group = new Option<string?>("--dhchap-group")
        {
            Description = "Insist on this DH group: null, ffdhe2048 .. ffdhe8192 (default: ffdhe2048 when the host offers it)",
            HelpName = "group",
        };
        return ControlPlaneSession.Command(context, "add", "Admit a host to a subsystem, optionally requiring it to authenticate", [nqn, host, secret, controllerSecret, hash, group], async call =>
        {
            var request = new HostRequest
            {
                SubsystemNqn = call.Result.GetValue(nqn),
                HostNqn = call.Result.GetValue(host),
                DhchapSecret = call.Result.GetValue(secret) ?? "",
                DhchapControllerSecret = call.Result.GetValue(controllerSecret) ?? "",
                DhchapHash = call.Result.GetValue(hash) ?? "",
                DhchapGroup = call.Result.GetValue(group) ?? "",
            };
            var subsystem = await SubsystemCommand.Client(call).AddHostAsync(request, call.Options).ResponseAsync.ConfigureAwait(false);
            string how = subsystem.AuthenticatedHosts.FirstOrDefault(h => h.HostNqn == request.HostNqn) is { } authenticated
                ? $" (it must authenticate: DH-HMAC-CHAP{(authenticated.Bidirectional ? ", bidirectional" : "")})"
                : "";
            await call.WriteAsync(() => $"{subsystem.Nqn} admits {request.HostNqn}{how}\n", () => SubsystemReport.Json(subsystem)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command Remove(CliContext context)
    {
        var nqn = SubsystemCommand.Nqn();
        var host = HostNqn();
        var disconnect = new Option<bool>("--disconnect") { Description = "Also tear down the host's connected controllers (otherwise they stay until they disconnect)" };
        return ControlPlaneSession.Command(context, "remove", "Stop admitting a host to a subsystem", [nqn, host, disconnect], async call =>
        {
            bool tearDown = call.Result.GetValue(disconnect);
            var subsystem = await SubsystemCommand.Client(call).RemoveHostAsync(new HostRequest
            {
                SubsystemNqn = call.Result.GetValue(nqn),
                HostNqn = call.Result.GetValue(host),
                Disconnect = tearDown,
            }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(
                () => $"{subsystem.Nqn} no longer admits {call.Result.GetValue(host)}{(tearDown ? " (its controllers were disconnected)" : "")}\n",
                () => SubsystemReport.Json(subsystem)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command AllowAny(CliContext context)
    {
        var nqn = SubsystemCommand.Nqn();
        var allow = new Argument<bool>("allow") { Description = "true: admit every host; false: only the listed ones" };
        return ControlPlaneSession.Command(context, "allow-any", "Admit every host to a subsystem, or only the listed ones", [nqn, allow], async call =>
        {
            var subsystem = await SubsystemCommand.Client(call).SetAllowAnyHostAsync(new SetAllowAnyHostRequest
            {
                SubsystemNqn = call.Result.GetValue(nqn),
                AllowAnyHost = call.Result.GetValue(allow),
            }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(
                () => subsystem.AllowAnyHost ? $"{subsystem.Nqn} admits any host\n" : $"{subsystem.Nqn} admits only its listed hosts ({subsystem.AllowedHosts.Count})\n",
                () => SubsystemReport.Json(subsystem)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }
}
