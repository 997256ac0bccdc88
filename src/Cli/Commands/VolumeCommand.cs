using System.CommandLine;
using System.Globalization;
using NovaStor.Cli.Output;
using NovaStor.ControlPlane.V1;

namespace NovaStor.Cli.Commands;

/// <summary>volume: the node's thin volumes over the control plane (create, delete, resize, list, get, changes, capacity).</summary>
internal static class VolumeCommand
{
    public static Command Create(CliContext context) => new("volume", "Manage the target's volumes over its control plane")
    {
        CreateVolume(context),
        Delete(context),
        Resize(context),
        List(context),
        Get(context),
        Changes(context),
        Capacity(context),
    };

    private static Argument<string> Name() => new("name") { Description = "The volume's name" };

    private static Option<long> Size(string description) => new("--size")
    {
        Description = description,
        Required = true,
        CustomParser = Sizes.Parser(1),
        HelpName = "size",
    };

    private static Command CreateVolume(CliContext context)
    {
        var name = Name();
        name.Description = "The new volume's name: letters, digits, '.', '_' and '-', starting with a letter or digit";
        var size = Size("Size in bytes; k, m, g, t suffixes (powers of 1024), e.g. 512m, 1g");
        var blockSize = new Option<uint>("--block-size")
        {
            Description = "The LBA size hosts see: 512 or 4096",
            DefaultValueFactory = _ => 512,
            CustomParser = BlockSize,
            HelpName = "bytes",
        };
        var stripeWidth = new Option<uint>("--stripe-width")
        {
            Description = "Drives to stripe over (4 MiB chunks); 1: one drive",
            DefaultValueFactory = _ => 1,
            CustomParser = Numbers.Parser(1u, uint.MaxValue, "--stripe-width"),
            HelpName = "drives",
        };
        return ControlPlaneSession.Command(context, "create", "Create a thin volume", [name, size, blockSize, stripeWidth], async call =>
        {
            var volume = await Client(call).CreateVolumeAsync(new CreateVolumeRequest
            {
                Name = call.Result.GetValue(name),
                SizeBytes = (ulong)call.Result.GetValue(size),
                BlockSize = call.Result.GetValue(blockSize),
                StripeWidth = call.Result.GetValue(stripeWidth),
            }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => $"created volume {volume.Name}\n" + VolumeReport.Text(volume), () => VolumeReport.Json(volume)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command Delete(CliContext context)
    {
        var name = Name();
        var force = new Option<bool>("--force") { Description = "Delete it even while exported: its namespaces are removed first (hosts see them go)" };
        return ControlPlaneSession.Command(context, "delete", "Delete a volume and its data", [name, force], async call =>
        {
            string volume = call.Result.GetValue(name)!;
            await Client(call).DeleteVolumeAsync(new DeleteVolumeRequest { Name = volume, Force = call.Result.GetValue(force) }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => $"deleted volume {volume}\n", () => new System.Text.Json.Nodes.JsonObject { ["deleted"] = volume }).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command Resize(CliContext context)
    {
        var name = Name();
        var size = Size("The new size (at least the current one, a whole number of blocks); k, m, g, t suffixes");
        return ControlPlaneSession.Command(context, "resize", "Grow a volume online (connected hosts are told of the new size)", [name, size], async call =>
        {
            var volume = await Client(call).ResizeVolumeAsync(new ResizeVolumeRequest
            {
                Name = call.Result.GetValue(name),
                SizeBytes = (ulong)call.Result.GetValue(size),
            }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(
                () => string.Create(CultureInfo.InvariantCulture, $"resized volume {volume.Name} to {Units.Bytes(volume.SizeBytes)} ({volume.SizeBytes} bytes)\n"),
                () => VolumeReport.Json(volume)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command List(CliContext context) =>
        ControlPlaneSession.Command(context, "list", "List the volumes", [], async call =>
        {
            var response = await Client(call).ListVolumesAsync(new ListVolumesRequest(), call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => VolumeReport.List(response.Volumes), () => VolumeReport.ListJson(response.Volumes)).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Command Get(CliContext context)
    {
        var name = Name();
        return ControlPlaneSession.Command(context, "get", "Show one volume", [name], async call =>
        {
            var volume = await Client(call).GetVolumeAsync(new GetVolumeRequest { Name = call.Result.GetValue(name) }, call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => VolumeReport.Text(volume), () => VolumeReport.Json(volume)).ConfigureAwait(false);
            return ExitCodes.Success;
        });
    }

    private static Command Changes(CliContext context)
    {
        var name = Name();
        var clear = new Option<bool>("--clear") { Description = "Clear the map in the same step (each change is then reported exactly once)" };
        return ControlPlaneSession.Command(context, "changes",
            "The regions (64 KiB) written since the map was last cleared, for incremental backup; -o json includes the bitmap (base64)",
            [name, clear], async call =>
            {
                string volume = call.Result.GetValue(name)!;
                bool clearing = call.Result.GetValue(clear);
                var request = new GetChangedRegionsRequest { Name = volume };
                var client = Client(call);
                var map = clearing
                    ? await client.ClearChangedRegionsAsync(request, call.Options).ResponseAsync.ConfigureAwait(false)
                    : await client.GetChangedRegionsAsync(request, call.Options).ResponseAsync.ConfigureAwait(false);
                await call.WriteAsync(() => VolumeReport.Changes(volume, map, clearing), () => VolumeReport.ChangesJson(volume, map, clearing)).ConfigureAwait(false);
                return ExitCodes.Success;
            });
    }

    private static Command Capacity(CliContext context) =>
        ControlPlaneSession.Command(context, "capacity", "What the node's drives can still take", [], async call =>
        {
            var capacity = await Client(call).GetCapacityAsync(new GetCapacityRequest(), call.Options).ResponseAsync.ConfigureAwait(false);
            await call.WriteAsync(() => VolumeReport.Capacity(capacity), () => VolumeReport.CapacityJson(capacity)).ConfigureAwait(false);
            return ExitCodes.Success;
        });

    private static Volumes.VolumesClient Client(ControlPlaneCall call) => new(call.Channel);

    private static uint BlockSize(System.CommandLine.Parsing.ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (text is "512" or "4096")
        {
            return uint.Parse(text, CultureInfo.InvariantCulture);
        }

        result.AddError($"--block-size must be 512 or 4096, not '{text}'");
        return 0;
    }
}
