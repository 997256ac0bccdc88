using Microsoft.Extensions.Logging.Abstractions;
using NovaStor.Csi.Node;
using Xunit;

namespace NovaStor.Csi.Tests.Node;

/// <summary>
/// Finding a volume's device in sysfs by subsystem and NGUID, under native-multipath naming (the
/// disk's device is the subsystem) and per-controller naming (the disk's device is the
/// controller), never a hidden per-path disk; the paths already connected; the mount table; what
/// blkid says a device holds. A fake sysfs in a temporary folder, laid out as Linux 6.x lays it out.
/// </summary>
public sealed class SysfsAndMountTests : IDisposable
{
    private const string Volume = "nqn.2026-12.io.novastor:csi:pvc-1";
    private const string Other = "nqn.2026-12.io.novastor:csi:pvc-2";
    private readonly string _root = Directory.CreateTempSubdirectory("novastor-sysfs-").FullName;

    public SysfsAndMountTests()
    {
        // Native multipath: subsystem 0 holds nvme0n1 (the head); nvme0c0n1 and nvme0c1n1 are its hidden paths.
        string subsys0 = Dir("class/nvme-subsystem/nvme-subsys0");
        Write(subsys0, "subsysnqn", Volume + "\n");
        Disk("nvme0n1", subsys0, "6a3b2c1d-0e0f-4a4b-9c9d-0e0f10111213", "0f0e0d0c-0b0a-4948-8786-858483828180");
        Disk("nvme0c0n1", Dir("class/nvme/nvme0"), "6a3b2c1d-0e0f-4a4b-9c9d-0e0f10111213", "");
        Write(Dir("class/nvme/nvme0"), "subsysnqn", Volume + "\n");
        Write(Dir("class/nvme/nvme0"), "address", "traddr=10.0.2.2,trsvcid=4420,src_addr=10.0.2.15\n");
        Write(Dir("class/nvme/nvme0"), "state", "live\n");
        Write(Dir("class/nvme/nvme1"), "subsysnqn", Volume + "\n");
        Write(Dir("class/nvme/nvme1"), "address", "traddr=10.0.2.2,trsvcid=4421\n");
        Write(Dir("class/nvme/nvme1"), "state", "deleting\n");

        // Per-controller naming: nvme2n1's device is controller nvme2, of another subsystem, with the same NGUID.
        string controller2 = Dir("class/nvme/nvme2");
        Write(controller2, "subsysnqn", Other + "\n");
        Write(controller2, "state", "live\n");
        Write(controller2, "address", "traddr=10.0.2.2,trsvcid=4420\n");
        Disk("nvme2n1", controller2, "6a3b2c1d-0e0f-4a4b-9c9d-0e0f10111213", "");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private NvmeSysfs Sysfs => new(_root, "/dev");

    [Fact]
    public void The_device_is_found_by_subsystem_and_nguid_or_uuid_and_never_a_hidden_path()
    {
        Assert.Equal("/dev/nvme0n1", Sysfs.FindDevice(Volume, "6a3b2c1d0e0f4a4b9c9d0e0f10111213", null));
        Assert.Equal("/dev/nvme0n1", Sysfs.FindDevice(Volume, null, "0f0e0d0c-0b0a-4948-8786-858483828180"));
        Assert.Equal("/dev/nvme2n1", Sysfs.FindDevice(Other, "6a3b2c1d0e0f4a4b9c9d0e0f10111213", null));
        Assert.Null(Sysfs.FindDevice(Volume, "00000000000000000000000000000000", null));
        Assert.Null(Sysfs.FindDevice("nqn.2026-12.io.novastor:csi:absent", "6a3b2c1d0e0f4a4b9c9d0e0f10111213", null));
        Assert.Null(new NvmeSysfs(Path.Combine(_root, "nothing"), "/dev").FindDevice(Volume, "6a3b2c1d0e0f4a4b9c9d0e0f10111213", null));
    }

    [Fact]
    public void A_subsystems_controllers_and_its_live_paths_are_read_from_sysfs()
    {
        Assert.Equal(["nvme0", "nvme1"], Sysfs.ControllersOf(Volume));
        var fabrics = new NvmeFabrics(new ExternalCommands(NullLogger<ExternalCommands>.Instance, TimeSpan.FromSeconds(5)), Sysfs, new NodePluginOptions(),
            new NodeHostIdentity("nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001", Guid.Empty));
        // nvme1 is being deleted: its path does not count as connected.
        Assert.Equal([("10.0.2.2", "4420")], fabrics.ConnectedPaths(Volume));
        Assert.Equal(("fd00::1", "4420"), NvmeFabrics.Split("[fd00::1]:4420"));
        Assert.Throws<FormatException>(() => NvmeFabrics.Split("10.0.2.2"));
    }

    [Fact]
    public void The_mount_table_is_read_with_escapes_and_optional_fields()
    {
        string[] lines =
        [
            "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw",
            "97 22 259:3 / /var/lib/kubelet/plugins/csi/pv/pvc-1/globalmount rw,relatime shared:50 master:2 - ext4 /dev/nvme0n1 rw,stripe=32",
            "98 22 259:3 / /var/lib/kubelet/pods/a\\040b/volumes/mount rw,relatime - ext4 /dev/nvme0n1 rw",
            "99 22 0:5 /nvme2n1 /var/lib/kubelet/pods/c/volumeDevices/pvc-2 ro,nosuid - devtmpfs udev rw,size=1000k",
            "garbage line",
        ];
        var mounts = MountTable.Parse(lines);
        Assert.Equal(4, mounts.Count);
        var staged = MountTable.At(mounts, "/var/lib/kubelet/plugins/csi/pv/pvc-1/globalmount/")!;
        Assert.Equal(("ext4", "/dev/nvme0n1"), (staged.FileSystem, staged.Source));
        Assert.Contains("stripe=32", staged.Options);
        Assert.NotNull(MountTable.At(mounts, "/var/lib/kubelet/pods/a b/volumes/mount"));
        var block = MountTable.At(mounts, "/var/lib/kubelet/pods/c/volumeDevices/pvc-2")!;
        Assert.Equal(("devtmpfs", "/nvme2n1"), (block.FileSystem, block.Root));
        Assert.Contains("ro", block.Options);
        Assert.Null(MountTable.At(mounts, "/var/lib/kubelet"));

        // This process's own table parses, and has a root.
        Assert.NotNull(MountTable.At(MountTable.Read(), "/"));
    }

    [Fact]
    public void Only_a_device_with_no_signature_at_all_is_blank()
    {
        Assert.True(DeviceContent.Empty.IsBlank);
        var ext4 = DeviceContent.Parse("DEVNAME=/dev/nvme0n1\nUUID=1234\nBLOCK_SIZE=4096\nTYPE=ext4\n");
        Assert.Equal(("ext4", (string?)null, false), (ext4.FileSystem, ext4.PartitionTable, ext4.IsBlank));
        var partitioned = DeviceContent.Parse("DEVNAME=/dev/nvme0n1\nPTUUID=abcd\nPTTYPE=gpt\n");
        Assert.Equal(((string?)null, "gpt", false), (partitioned.FileSystem, partitioned.PartitionTable, partitioned.IsBlank));
        Assert.False(DeviceContent.Parse("DEVNAME=/dev/nvme0n1\nUSAGE=raid\n").IsBlank);
    }

    private string Dir(string relative)
    {
        string path = Path.Combine(_root, relative);
        Directory.CreateDirectory(path);
        return path;
    }

    private static void Write(string folder, string name, string content) => File.WriteAllText(Path.Combine(folder, name), content);

    private void Disk(string name, string device, string nguid, string uuid)
    {
        string disk = Dir(Path.Combine("block", name));
        Write(disk, "nguid", nguid + "\n");
        if (uuid.Length > 0)
        {
            Write(disk, "uuid", uuid + "\n");
        }

        Directory.CreateSymbolicLink(Path.Combine(disk, "device"), device);
    }
}
