using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using NovaStor.Cli.Output;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Commands;

/// <summary>subsystem: the target's NVMe subsystems and their namespaces over the control plane.</summary>
internal static class SubsystemCommand
{
    public static Command Create(CliContext context) => new("subsystem", "Manage the target's subsystems and their namespaces over its control plane")
    {
        CreateSubsystem(context),
        Delete(context),
        List(context),
        Get(context),
        AddNamespace(context),
        RemoveNamespace(context),
        Listener(context, add: true),
        Listener(context, add: false),
    };

    internal static Argument<string> Nqn() => new("nqn") { Description = "The subsystem's NQN" };

    private static Command CreateSubsystem(CliContext context)
    {
        var nqn = Nqn();
        nqn.Description = "The new subsystem's NQN (nqn.yyyy-mm.reverse-domain:...)";
        var serial = new Option<string?>("--serial") { Description = "Serial number (at most 20 printable ASCII characters; default: derived from the NQN)", HelpName = "serial" };
        var model = new Option<string?>("--model") { Description = "Model number (at most 40 printable ASCII characters)", HelpName = "model" };
        var allowAny = new Option<bool>("--allow-any-host") { Description = "Admit every host (otherwise only the --host NQNs)" };
        var hosts = new Option<string[]>("--host") { Description = "A host NQN to admit; repeatable", HelpName = "hostnqn" };
        return ControlPlaneSession.Command(context, "create", "Create a subsystem (kept in the data folder across restarts)", [nqn, serial, model, allowAny, hosts], async call =>
        {
            var request = new CreateSubsystemRequest
            {
                Nqn = call.Result.GetValue(nqn),
                SerialNumber = call.Result.GetValue(serial) ?? "",
                ModelNumber = call.Result.GetValue(model) ?? "",
                AllowAnyHost = call.Result.GetValue(allowAny),
            };
            request.AllowedHosts.AddRange(call.Result.GetValue(hosts) ?? []);
            var subsystem = await Client(call).CreateSubsystemAsync(request, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => $"created subsystem {subsystem.Nqn}\n" + SubsystemReport.Text(subsystem), () => SubsystemReport.Json(subsystem)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command Delete(CliContext context)
    {
        var nqn = Nqn();
        var force = new Option<bool>("--force") { Description = "Delete it even while hosts are connected (their controllers are torn down)" };
        return ControlPlaneSession.Command(context, "delete", "Delete a subsystem (its volumes stay)", [nqn, force], async call =>
        {
            string name = call.Result.GetValue(nqn)!;
            await Client(call).DeleteSubsystemAsync(new DeleteSubsystemRequest { Nqn = name, Force = call.Result.GetValue(force) }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => $"deleted subsystem {name}\n", () => new JsonObject { ["deleted"] = name }).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command List(CliContext context) =>
        ControlPlaneSession.Command(context, "list", "List the subsystems", [], async call =>
        {
            var response = await Client(call).ListSubsystemsAsync(new ListSubsystemsRequest(), call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => SubsystemReport.List(response.Subsystems), () => SubsystemReport.ListJson(response.Subsystems)).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Command Get(CliContext context)
    {
        var nqn = Nqn();
        return ControlPlaneSession.Command(context, "get", "Show one subsystem: namespaces, hosts, connected controllers", [nqn], async call =>
        {
            var subsystem = await Client(call).GetSubsystemAsync(new GetSubsystemRequest { Nqn = call.Result.GetValue(nqn) }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => SubsystemReport.Text(subsystem), () => SubsystemReport.Json(subsystem)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command AddNamespace(CliContext context)
    {
        var nqn = Nqn();
        var volume = new Option<string>("--volume") { Description = "The volume to export", Required = true, HelpName = "name" };
        var nsid = new Option<uint>("--nsid")
        {
            Description = "Namespace ID (default: the lowest free one)",
            CustomParser = Numbers.Parser(1u, 0xFFFFFFFEu, "--nsid"),
            HelpName = "nsid",
        };
        var group = new Option<uint>("--ana-group")
        {
            Description = "ANA group, 1..32",
            DefaultValueFactory = _ => 1,
            CustomParser = Numbers.Parser(1u, 32u, "--ana-group"),
            HelpName = "group",
        };
        return ControlPlaneSession.Command(context, "add-ns", "Export a volume as a namespace (connected hosts are told and find it)", [nqn, volume, nsid, group], async call =>
        {
            string name = call.Result.GetValue(volume)!;
            var subsystem = await Client(call).AddNamespaceAsync(new AddNamespaceRequest
            {
                SubsystemNqn = call.Result.GetValue(nqn),
                Volume = name,
                NamespaceId = call.Result.GetValue(nsid),
                AnaGroup = call.Result.GetValue(group),
            }, call.Options).ResponseAsync.ConfigureAwait(false);
            var added = subsystem.Namespaces.FirstOrDefault(n => n.Volume == name);
            await call.WriteAsync(
                () => added is null
                    ? $"exported volume {name} in {subsystem.Nqn}\n"
                    : string.Create(CultureInfo.InvariantCulture, $"exported volume {name} as namespace {added.Id} of {subsystem.Nqn} (ANA group {added.AnaGroup})\n"),
                () => SubsystemReport.Json(subsystem)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command RemoveNamespace(CliContext context)
    {
        var nqn = Nqn();
        var nsid = new Option<uint>("--nsid")
        {
            Description = "The namespace to remove (the volume stays)",
            Required = true,
            CustomParser = Numbers.Parser(1u, 0xFFFFFFFEu, "--nsid"),
            HelpName = "nsid",
        };
        return ControlPlaneSession.Command(context, "remove-ns", "Remove a namespace (connected hosts are told; the volume stays)", [nqn, nsid], async call =>
        {
            uint id = call.Result.GetValue(nsid);
            var subsystem = await Client(call).RemoveNamespaceAsync(new RemoveNamespaceRequest { SubsystemNqn = call.Result.GetValue(nqn), NamespaceId = id }, call.Options)
                .ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => string.Create(CultureInfo.InvariantCulture, $"removed namespace {id} from {subsystem.Nqn}\n"), () => SubsystemReport.Json(subsystem))
                .ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    /// <summary>add-listener / remove-listener: which listeners serve the subsystem (every one until the first is added).</summary>
    private static Command Listener(CliContext context, bool add)
    {
        var nqn = Nqn();
        var address = new Option<string>("--address") { Description = "The listener's IP address", Required = true, HelpName = "address" };
        var port = new Option<uint>("--port")
        {
            Description = "The listener's TCP port",
            Required = true,
            CustomParser = Numbers.Parser(1u, (uint)ushort.MaxValue, "--port"),
            HelpName = "port",
        };
        string name = add ? "add-listener" : "remove-listener";
        string description = add
            ? "Serve the subsystem on a listener (bound first if the node has none there); from the first one on, only on the ones added"
            : "Stop serving the subsystem on a listener (its controllers there are torn down; the listener stays for others)";
        return ControlPlaneSession.Command(context, name, description, [nqn, address, port], async call =>
        {
            var request = new SubsystemListenerRequest { SubsystemNqn = call.Result.GetValue(nqn), Address = call.Result.GetValue(address)!, Port = call.Result.GetValue(port) };
            var subsystem = add
                ? await Client(call).AddListenerAsync(request, call.Options).ResponseAsync.ConfigureAwait(false)
                : await Client(call).RemoveListenerAsync(request, call.Options).ResponseAsync.ConfigureAwait(false);
            string ports = subsystem.AllListeners ? "every listener" : subsystem.ListenerPortIds.Count == 0 ? "no listener" : "port ids " + string.Join(", ", subsystem.ListenerPortIds);
            await call.WriteAsync(() => $"{subsystem.Nqn} is served on {ports}\n", () => SubsystemReport.Json(subsystem)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    internal static Subsystems.SubsystemsClient Client(ControlPlaneCall call) => new(call.Channel);
}
