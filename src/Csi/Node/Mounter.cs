namespace NovaStor.Csi.Node;

/// <summary>Filesystems and mounts through the node's tools (mkfs, mount, umount, resize2fs, xfs_growfs), each bounded by <see cref="ExternalCommands"/>' timeout.</summary>
internal sealed class Mounter(ExternalCommands commands)
{
    /// <summary>Makes a filesystem on a device that holds nothing (the caller has checked: <see cref="DeviceContent.IsBlank"/>).</summary>
    public async Task FormatAsync(string device, string fsType, CancellationToken cancellationToken)
    {
        // No force flags: mkfs refuses a device that turns out to hold something after all.
        string[] arguments = fsType == "xfs" ? ["-q", device] : ["-q", "-m", "0", device];
        await RequireAsync($"mkfs.{fsType}", arguments, $"making {fsType} on {device}", cancellationToken).ConfigureAwait(false);
    }

    public async Task MountAsync(string source, string target, string fsType, IReadOnlyCollection<string> options, CancellationToken cancellationToken)
    {
        var arguments = new List<string> { "-t", fsType };
        if (options.Count > 0)
        {
            arguments.AddRange(["-o", string.Join(',', options)]);
        }

        arguments.AddRange([source, target]);
        await RequireAsync("mount", arguments, $"mounting {source} at {target}", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Bind-mounts <paramref name="source"/> (a directory or a device node) at <paramref name="target"/>, read-only when asked.</summary>
    public async Task BindAsync(string source, string target, bool readOnly, IReadOnlyCollection<string> options, CancellationToken cancellationToken)
    {
        await RequireAsync("mount", ["--bind", source, target], $"bind-mounting {source} at {target}", cancellationToken).ConfigureAwait(false);
        if (readOnly || options.Count > 0)
        {
            // A bind mount takes its flags only from a remount.
            string flags = string.Join(',', new[] { "remount", "bind" }.Concat(readOnly ? ["ro"] : []).Concat(options));
            await RequireAsync("mount", ["-o", flags, target], $"remounting {target} ({flags})", cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task UnmountAsync(string target, CancellationToken cancellationToken) =>
        await RequireAsync("umount", [target], $"unmounting {target}", cancellationToken).ConfigureAwait(false);

    /// <summary>Grows the filesystem to the device's size (ext4 by device, xfs by mount point, as their tools want).</summary>
    public async Task GrowAsync(string device, string mountPoint, string fsType, CancellationToken cancellationToken)
    {
        var (tool, argument) = fsType == "xfs" ? ("xfs_growfs", mountPoint) : ("resize2fs", device);
        await RequireAsync(tool, [argument], $"growing the {fsType} filesystem on {device}", cancellationToken).ConfigureAwait(false);
    }

    private async Task RequireAsync(string tool, IReadOnlyList<string> arguments, string what, CancellationToken cancellationToken)
    {
        var result = await commands.RunAsync(tool, arguments, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new IOException($"{what} failed: {result.Describe()}");
        }
    }
}
