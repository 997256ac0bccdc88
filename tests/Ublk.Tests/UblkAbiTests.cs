using System.Runtime.CompilerServices;
using Xunit;

namespace NovaStor.Ublk.Tests;

/// <summary>
/// The ublk ABI as the kernel lays it out (include/uapi/linux/ublk_cmd.h): structure sizes and
/// field offsets, and the ioctl-encoded command numbers, checked against values computed by hand
/// from the header's _IOR/_IOWR macros. The driver itself is exercised in the 6.12 guest
/// (tests/conformance/Ublk): the build machines' kernel has no ublk_drv.
/// </summary>
public sealed class UblkAbiTests
{
    [Fact]
    public void Structures_have_the_kernels_sizes_and_offsets()
    {
        Assert.Equal(32, Unsafe.SizeOf<ControlCommand>());
        Assert.Equal(64, Unsafe.SizeOf<DeviceInfo>());
        Assert.Equal(24, Unsafe.SizeOf<IoDescriptor>());
        Assert.Equal(16, Unsafe.SizeOf<IoCommand>());
        Assert.Equal(60, Unsafe.SizeOf<DeviceParameters>());

        var info = new DeviceInfo { QueueCount = 0x0102, Flags = 0x1122334455667788 };
        byte[] bytes = new byte[64];
        Unsafe.WriteUnaligned(ref bytes[0], info);
        Assert.Equal(0x02, bytes[0]);
        Assert.Equal(0x88, bytes[24]);

        var parameters = new DeviceParameters { DeviceSectors = 0xAABB, MaxWriteZeroesSectors = 0xCC, MaxDiscardSegments = 0xDD };
        bytes = new byte[60];
        Unsafe.WriteUnaligned(ref bytes[0], parameters);
        Assert.Equal(0xBB, bytes[24]);
        Assert.Equal(0xCC, bytes[52]);
        Assert.Equal(0xDD, bytes[56]);
    }

    [Fact]
    public void Commands_are_ioctl_encoded_as_the_header_defines_them()
    {
        // _IOWR('u', nr, size) = 3 << 30 | size << 16 | 'u' << 8 | nr;  _IOR: 2 << 30.
        Assert.Equal(0xC0207504u, UblkAbi.AddDevice);
        Assert.Equal(0xC0207505u, UblkAbi.DeleteDevice);
        Assert.Equal(0xC0207506u, UblkAbi.StartDevice);
        Assert.Equal(0xC0207507u, UblkAbi.StopDevice);
        Assert.Equal(0xC0207508u, UblkAbi.SetParameters);
        Assert.Equal(0x80207502u, UblkAbi.GetDeviceInfo);
        Assert.Equal(0xC0207510u, UblkAbi.StartUserRecovery);
        Assert.Equal(0xC0207511u, UblkAbi.EndUserRecovery);
        Assert.Equal(0xC0107520u, UblkAbi.FetchRequest);
        Assert.Equal(0xC0107521u, UblkAbi.CommitAndFetchRequest);
    }

    [Theory]
    [InlineData("/dev/ublkb0", 0)]
    [InlineData("/dev/ublkb12", 12)]
    [InlineData("7", 7)]
    public void Device_names_parse(string name, int id)
    {
        Assert.True(UblkDevices.TryParse(name, out int parsed));
        Assert.Equal(id, parsed);
    }

    [Theory]
    [InlineData("/dev/nvme0n1")]
    [InlineData("/dev/ublkc0")]
    [InlineData("-1")]
    [InlineData("")]
    public void Other_names_do_not(string name) => Assert.False(UblkDevices.TryParse(name, out _));
}
