using System.Text.RegularExpressions;

namespace NovaStor.Csi.Node;

/// <summary>
/// Finds the block device of a volume by what the target says the namespace is (its NGUID or
/// UUID) and the subsystem it belongs to, never by guessing from names or order: the kernel's
/// sysfs lists every NVMe disk (<c>/sys/block/nvme*</c>) with its <c>nguid</c> / <c>uuid</c>, and
/// its <c>device</c> link leads to the controller (per-controller naming) or the subsystem (native
/// multipath), both of which name the subsystem (<c>subsysnqn</c>). Per-path devices that native
/// multipath hides (<c>nvmeXcYnZ</c>) are never returned.
/// </summary>
internal sealed partial class NvmeSysfs(string sysfsRoot, string devRoot)
{
    /// <summary>A disk that is not a hidden per-path device: nvme0n1, not nvme0c1n1.</summary>
    [GeneratedRegex(@"^nvme\d+n\d+$")]
    private static partial Regex VisibleDisk();

    /// <summary>The device node (/dev/nvmeXnY) of the namespace of <paramref name="subsystemNqn"/> with this NGUID (32 hex digits) or UUID, or null.</summary>
    public string? FindDevice(string subsystemNqn, string? nguid, string? uuid)
    {
        string blocks = Path.Combine(sysfsRoot, "block");
        if (!Directory.Exists(blocks))
        {
            return null;
        }

        foreach (string disk in Directory.EnumerateFileSystemEntries(blocks, "nvme*").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(disk);
            if (!VisibleDisk().IsMatch(name) || SubsystemOf(disk) != subsystemNqn)
            {
                continue;
            }

            if ((nguid is { Length: > 0 } && Normalize(Read(Path.Combine(disk, "nguid"))) == Normalize(nguid))
                || (uuid is { Length: > 0 } && Normalize(Read(Path.Combine(disk, "uuid"))) == Normalize(uuid)))
            {
                return Path.Combine(devRoot, name);
            }
        }

        return null;
    }

    /// <summary>The controllers (nvmeX) connected to <paramref name="subsystemNqn"/>: what a disconnect of this volume removes.</summary>
    public IReadOnlyList<string> ControllersOf(string subsystemNqn)
    {
        string controllers = Path.Combine(sysfsRoot, "class", "nvme");
        if (!Directory.Exists(controllers))
        {
            return [];
        }

        return [.. Directory.EnumerateFileSystemEntries(controllers, "nvme*")
            .Where(c => Read(Path.Combine(c, "subsysnqn")) == subsystemNqn)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>A controller's transport address ("traddr=...,trsvcid=..."), or null when it is gone.</summary>
    public string? ControllerAddress(string controller) => Read(Path.Combine(sysfsRoot, "class", "nvme", controller, "address"));

    /// <summary>The state of a controller (live, connecting, resetting, deleting, ...), or null when it is gone.</summary>
    public string? ControllerState(string controller) => Read(Path.Combine(sysfsRoot, "class", "nvme", controller, "state"));

    /// <summary>The subsystem NQN of a disk: its device is a controller or a subsystem, and both say it.</summary>
    private static string? SubsystemOf(string disk) => Read(Path.Combine(disk, "device", "subsysnqn"));

    private static string? Read(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (IOException)
        {
            return null; // the device went away while we looked
        }
    }

    /// <summary>NGUIDs and UUIDs compared as 32 hex digits: the kernel prints them with dashes.</summary>
    private static string? Normalize(string? value) => value?.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant();
}
