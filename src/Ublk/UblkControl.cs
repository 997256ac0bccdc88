using System.Runtime.InteropServices;
using NovaStor.BlockEngine;
using NovaStor.BlockEngine.Native;

namespace NovaStor.Ublk;

/// <summary>
/// /dev/ublk-control: adds, configures, starts, stops and deletes ublk devices. Each command is a
/// URING_CMD on a small ring of 128-byte entries (the 32-byte command does not fit a 64-byte one),
/// submitted and waited for on the calling thread, which owns the ring: open one per thread.
/// </summary>
internal sealed unsafe class UblkControl : IDisposable
{
    private readonly int _fd;
    private readonly IoUring _ring;

    private UblkControl(int fd, IoUring ring)
    {
        _fd = fd;
        _ring = ring;
    }

    /// <exception cref="UblkException">No ublk driver (modprobe ublk_drv), or not allowed (root or CAP_SYS_ADMIN).</exception>
    public static UblkControl Open()
    {
        int fd = Libc.Open(UblkAbi.ControlDevice, Libc.O_RDWR | Libc.O_CLOEXEC, 0, out int errno);
        if (fd < 0)
        {
            throw new UblkException(errno, errno == Errno.ENOENT
                ? $"{UblkAbi.ControlDevice} does not exist: the kernel's ublk driver is not loaded (modprobe ublk_drv; Linux 6.0 or later)."
                : $"Opening {UblkAbi.ControlDevice} failed: {Errno.Describe(errno)} (the ublk server needs root or CAP_SYS_ADMIN).");
        }

        try
        {
            return new UblkControl(fd, IoUring.Create(4, IoUringNative.IORING_SETUP_SQE128));
        }
        catch
        {
            _ = Libc.Close(fd);
            throw;
        }
    }

    /// <summary>ADD_DEV: the driver picks the device ID (given -1) and fills in what it decided.</summary>
    public void AddDevice(ref DeviceInfo info)
    {
        fixed (DeviceInfo* buffer = &info)
        {
            Require(Run(UblkAbi.AddDevice, new ControlCommand { DeviceId = info.DeviceId, QueueId = ushort.MaxValue, Length = DeviceInfo.Size, Address = (ulong)buffer }), "adding the ublk device");
        }
    }

    public void SetParameters(int deviceId, ref DeviceParameters parameters)
    {
        parameters.Length = DeviceParameters.Size;
        fixed (DeviceParameters* buffer = &parameters)
        {
            Require(Run(UblkAbi.SetParameters, Command(deviceId, DeviceParameters.Size, (ulong)buffer)), $"setting the parameters of ublk device {deviceId}");
        }
    }

    /// <summary>START_DEV: returns once every queue has fetched every tag; the block device then exists.</summary>
    public void StartDevice(int deviceId, int serverPid)
    {
        var command = Command(deviceId, 0, 0);
        command.Data = (ulong)serverPid;
        Require(Run(UblkAbi.StartDevice, command), $"starting ublk device {deviceId}");
    }

    /// <summary>START_USER_RECOVERY: the device, quiesced since its server died, takes a new server's queues.</summary>
    public void StartUserRecovery(int deviceId) =>
        Require(Run(UblkAbi.StartUserRecovery, Command(deviceId, 0, 0)), $"starting the recovery of ublk device {deviceId}");

    /// <summary>END_USER_RECOVERY: returns once the new queues have fetched; the device is live again, waiting requests go on.</summary>
    public void EndUserRecovery(int deviceId, int serverPid)
    {
        var command = Command(deviceId, 0, 0);
        command.Data = (ulong)serverPid;
        Require(Run(UblkAbi.EndUserRecovery, command), $"ending the recovery of ublk device {deviceId}");
    }

    /// <summary>STOP_DEV: removes the block device; every queue's pending fetch ends with UBLK_IO_RES_ABORT.</summary>
    public int StopDevice(int deviceId) => Run(UblkAbi.StopDevice, Command(deviceId, 0, 0));

    /// <summary>DEL_DEV: forgets the device; waits until its queues have closed it.</summary>
    public int DeleteDevice(int deviceId) => Run(UblkAbi.DeleteDevice, Command(deviceId, 0, 0));

    /// <summary>GET_DEV_INFO: 0 and the device's state, or -errno (ENODEV: no such device).</summary>
    public int TryGetDeviceInfo(int deviceId, out DeviceInfo info)
    {
        info = default;
        fixed (DeviceInfo* buffer = &info)
        {
            return Run(UblkAbi.GetDeviceInfo, Command(deviceId, DeviceInfo.Size, (ulong)buffer));
        }
    }

    private static ControlCommand Command(int deviceId, ushort length, ulong address) =>
        new() { DeviceId = (uint)deviceId, QueueId = ushort.MaxValue, Length = length, Address = address };

    /// <summary>Runs one command and waits for its completion: the CQE's result (0 or -errno).</summary>
    private int Run(uint operation, ControlCommand command)
    {
        if (!_ring.TryGetSubmissionEntry(out var sqe))
        {
            throw new InvalidOperationException("The control ring is full; one command at a time.");
        }

        MemoryMarshal.Write(sqe->PrepareUringCommand(_fd, operation, 1), in command);
        Span<IoUringCqe> completion = stackalloc IoUringCqe[1];
        while (true)
        {
            _ring.Submit(1);
            if (_ring.ReapCompletions(completion) == 1)
            {
                return completion[0].Result;
            }
        }
    }

    private static void Require(int result, string what)
    {
        if (result < 0)
        {
            throw new UblkException(-result, $"{char.ToUpperInvariant(what[0])}{what[1..]} failed: {Errno.Describe(-result)}.");
        }
    }

    public void Dispose()
    {
        _ring.Dispose();
        _ = Libc.Close(_fd);
    }
}

/// <summary>The ublk driver refused something, or a device cannot be used; <see cref="ErrorNumber"/> is the errno.</summary>
public sealed class UblkException(int errorNumber, string message) : IOException(message)
{
    public int ErrorNumber { get; } = errorNumber;
}
